/**
 * What an API key may do. A key carries a subset; routes require one (`requireScope`), else 403.
 *
 * @module
 */
export const SCOPES = ["images:generate", "usage:read"] as const;
export type Scope = (typeof SCOPES)[number];

export function parseScopes(stored: string): Scope[] {
  return stored.split(" ").filter((s): s is Scope => (SCOPES as readonly string[]).includes(s));
}

export function formatScopes(scopes: readonly Scope[]): string {
  return [...new Set(scopes)].join(" ");
}
