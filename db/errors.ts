/** SQLSTATE codes the repositories branch on (PostgreSQL appendix A). */
export const SQLSTATE = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  notNullViolation: '23502',
  checkViolation: '23514',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
} as const;

export interface DatabaseErrorInfo {
  /** Five-character SQLSTATE. */
  code: string;
  /** Violated constraint or index name, when the server reported one. */
  constraint: string | undefined;
}

/**
 * The server-side error behind a failed query, on either driver. drizzle wraps driver errors in
 * `DrizzleQueryError` (the original is its `cause`); postgres.js names the constraint
 * `constraint_name`, PGlite `constraint`. Returns undefined for anything that is not a server error
 * (network failures, bugs), which callers must not mistake for a constraint violation.
 */
export function databaseError(error: unknown): DatabaseErrorInfo | undefined {
  for (let e: unknown = error, depth = 0; e !== null && typeof e === 'object' && depth < 8; depth++) {
    const candidate = e as {
      code?: unknown;
      severity?: unknown;
      constraint_name?: unknown;
      constraint?: unknown;
    };
    // `severity` tells a server error from a Node system error whose `code` also looks like "EPIPE".
    if (typeof candidate.code === 'string' && typeof candidate.severity === 'string') {
      const constraint = candidate.constraint_name ?? candidate.constraint;
      return { code: candidate.code, constraint: typeof constraint === 'string' ? constraint : undefined };
    }
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
