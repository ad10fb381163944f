/** The rest of the chain; a middleware passes the context on (or a different one, though none here does). */
export type Next<C> = (ctx: C) => Promise<void>;
/** May throw synchronously: it surfaces at the `await next(ctx)` of the layer outside, like a rejection. */
export type Middleware<C> = (ctx: C, next: Next<C>) => Promise<void>;

/**
 * Chains middleware into one function, as an onion: each runs its code before `await next(ctx)`, then the inner
 * layers, then its code after. Composed once at start-up, and unlike hono's compose each layer's `next` is bound
 * then too, so a request allocates no closures.
 */
export function compose<C>(middleware: readonly Middleware<C>[], last: Next<C>): Next<C> {
  return middleware.reduceRight<Next<C>>((next, layer) => (ctx) => layer(ctx, next), last);
}
