import type { Command } from "commander";
import { AdminClient, type AdminOptions, withAdminOptions } from "./admin-client.js";
import { CommandError } from "./common.js";

type JsonOption = { json?: boolean };

interface UserView {
  name: string;
  admin: boolean;
  disabled: boolean;
  createdAt: string;
  quota: { requestsPerMinute: number; bytesPerDay: number };
  quotaOverride: { requestsPerMinute: number | null; bytesPerDay: number | null };
}

interface NewToken {
  secret: string;
  personal: { host: string; url: string } | null;
}

function print(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : text());
}

const limit = (n: number, own: number | null) => `${n === 0 ? "none" : n}${own === null ? "" : " (own)"}`;

function userLine(u: UserView): string {
  const flags = [u.admin ? "admin" : "", u.disabled ? "DISABLED" : ""].filter(Boolean).join(",") || "-";
  const rpm = limit(u.quota.requestsPerMinute, u.quotaOverride.requestsPerMinute);
  const bytes = limit(u.quota.bytesPerDay, u.quotaOverride.bytesPerDay);
  return `${u.name.padEnd(20)} ${flags.padEnd(15)} ${rpm.padEnd(14)} ${bytes.padEnd(20)} ${u.createdAt}\n`;
}

function tokenText(t: NewToken): string {
  const personal = t.personal ? `personal address  ${t.personal.url}\n` : "";
  return `pull token        ${t.secret}   (shown once: keep it)\n${personal}`;
}

/** Reads a password from stdin (for --password-stdin): the first line. */
async function readStdinLine(): Promise<string> {
  let text = "";
  for await (const chunk of process.stdin) text += String(chunk);
  const line = text.split(/\r?\n/)[0] ?? "";
  if (line === "") throw new CommandError("--password-stdin: no password on standard input");
  return line;
}

/** "default" (the configured one), or the value as given (the server validates it and names what is wrong). */
function quotaValue(raw: string | undefined): number | string | null | undefined {
  if (raw === undefined) return undefined;
  if (raw === "default") return null;
  return /^\d+$/.test(raw) ? Number(raw) : raw;
}

export function registerUsers(cli: Command): void {
  const users = cli
    .command("users")
    .description("users mode: accounts, pull tokens and quotas of the running mirror");
  const client = (o: AdminOptions) => new AdminClient(o);

  withAdminOptions(users.command("add"))
    .description(
      "creates an account (a password is generated unless --password-stdin) and its first pull token",
    )
    .argument("<name>")
    .option("--admin", "may manage users from the console")
    .option("--password-stdin", "read the password from standard input")
    .option("--json", "one JSON object")
    .action(
      async (name: string, o: AdminOptions & JsonOption & { admin?: boolean; passwordStdin?: boolean }) => {
        const password = o.passwordStdin ? await readStdinLine() : undefined;
        const r = await client(o).json<{ user: UserView; password?: string; token: NewToken }>(
          "POST",
          "/admin/users",
          {
            name,
            admin: o.admin === true,
            ...(password ? { password } : {}),
          },
        );
        print(o.json === true, r, () => {
          const pw = r.password ? `password          ${r.password}   (generated: shown once)\n` : "";
          return `added ${r.user.name}${r.user.admin ? " (admin)" : ""}\n${pw}${tokenText(r.token)}`;
        });
      },
    );

  withAdminOptions(users.command("list"))
    .description("every account, its role, state and quotas")
    .option("--json", "one JSON object")
    .action(async (o: AdminOptions & JsonOption) => {
      const r = await client(o).json<{ users: UserView[] }>("GET", "/admin/users");
      print(o.json === true, r, () => {
        const head = `${"NAME".padEnd(20)} ${"FLAGS".padEnd(15)} ${"REQ/MIN".padEnd(14)} ${"BYTES/DAY".padEnd(20)} CREATED\n`;
        return head + r.users.map(userLine).join("");
      });
    });

  for (const [command, path, description] of [
    ["disable", "/admin/users/disable", "refuses the user's pulls and sign-ins at once (tokens are kept)"],
    ["enable", "/admin/users/enable", "lets a disabled user in again"],
  ] as const) {
    withAdminOptions(users.command(command))
      .description(description)
      .argument("<name>")
      .option("--json", "one JSON object")
      .action(async (name: string, o: AdminOptions & JsonOption) => {
        const r = await client(o).json<{ user: UserView }>("POST", path, { name });
        print(o.json === true, r, () => `${command}d ${r.user.name}\n`);
      });
  }

  withAdminOptions(users.command("set-quota"))
    .description("sets a user's own quotas; 0 is no limit, 'default' follows auth.quota")
    .argument("<name>")
    .option("--requests-per-minute <n>", "registry requests a minute")
    .option("--bytes-per-day <size>", "bytes served a UTC day, e.g. 10GiB")
    .option("--json", "one JSON object")
    .action(
      async (
        name: string,
        o: AdminOptions & JsonOption & { requestsPerMinute?: string; bytesPerDay?: string },
      ) => {
        if (o.requestsPerMinute === undefined && o.bytesPerDay === undefined) {
          throw new CommandError("set-quota: give --requests-per-minute and/or --bytes-per-day");
        }
        const r = await client(o).json<{ user: UserView }>("POST", "/admin/users/quota", {
          name,
          requestsPerMinute: quotaValue(o.requestsPerMinute),
          bytesPerDay: quotaValue(o.bytesPerDay),
        });
        print(o.json === true, r, () => userLine(r.user));
      },
    );

  withAdminOptions(users.command("reset-token"))
    .description("revokes all of the user's pull tokens (and personal addresses) and makes a new one")
    .argument("<name>")
    .option("--json", "one JSON object")
    .action(async (name: string, o: AdminOptions & JsonOption) => {
      const r = await client(o).json<{ user: UserView; token: NewToken }>(
        "POST",
        "/admin/users/reset-token",
        { name },
      );
      print(o.json === true, r, () => `reset ${r.user.name}'s pull tokens\n${tokenText(r.token)}`);
    });

  withAdminOptions(users.command("invite"))
    .description("makes a single-use invite code for sign-up (auth.signup: invite)")
    .option("--expires <duration>", "how long it is valid, e.g. 7d", "7d")
    .option("--json", "one JSON object")
    .action(async (o: AdminOptions & JsonOption & { expires: string }) => {
      const expires = /^\d+$/.test(o.expires) ? Number(o.expires) : o.expires;
      const r = await client(o).json<{ invite: { code: string; expiresAt: string } }>(
        "POST",
        "/admin/invites",
        {
          expires,
        },
      );
      print(o.json === true, r, () => `invite code ${r.invite.code} (valid until ${r.invite.expiresAt})\n`);
    });
}
