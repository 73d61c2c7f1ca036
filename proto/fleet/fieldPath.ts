// Field paths in operator-facing errors: `hosts[2].pubkey`, `channels.edge.rolloutPolicy`,
// `rolloutPolicies["web fleet"].waves[0]`. One format for zod issues and for invariant violations.

export type PathSegment = string | number;

export function formatFieldPath(segments: readonly PathSegment[]): string {
  let out = '';
  for (const seg of segments) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg) || /^[0-9a-z_-]+$/.test(seg)) {
      out += out === '' ? seg : `.${seg}`;
    } else out += `[${JSON.stringify(seg)}]`;
  }
  return out === '' ? '(top level)' : out;
}

/** One problem with a fleet description, located by field path. */
export interface FleetIssue {
  readonly path: string;
  readonly message: string;
}
