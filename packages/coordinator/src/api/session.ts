import { z } from "zod";

/**
 * `POST /api/session` body: signs a browser in with the bearer token. The answer (204) sets an
 * HttpOnly, SameSite=Strict cookie (`Secure` over HTTPS) that every `/api` route and the event
 * stream accept instead of the `authorization` header, so the token never appears in a URL.
 * A wrong token is 401. `DELETE /api/session` signs out.
 */
export const createSessionRequestSchema = z.object({ token: z.string().min(1).max(4096) });
/** `POST /api/session` body. */
export type CreateSessionRequest = z.infer<typeof createSessionRequestSchema>;

/** `GET /api/session` (public): whether a token is needed and whether this request carries a valid one. */
export const sessionResponseSchema = z.object({
  auth_required: z.boolean(),
  authenticated: z.boolean(),
});
/** `GET /api/session`. */
export type SessionResponse = z.infer<typeof sessionResponseSchema>;
