// zod issues rendered as operator-facing `FleetIssue`s: a field path and a sentence, no zod jargon.
import type { z } from 'zod';
import { type FleetIssue, formatFieldPath, type PathSegment } from './fieldPath.ts';

function segments(path: readonly PropertyKey[]): PathSegment[] {
  return path.map((p) => (typeof p === 'number' ? p : String(p)));
}

/** Parse with `{ reportInput: true }` so that missing fields read "is required". */
export function issuesFromZod(error: z.ZodError, prefix: readonly PathSegment[] = []): FleetIssue[] {
  const out: FleetIssue[] = [];
  for (const issue of error.issues) {
    const at = [...prefix, ...segments(issue.path)];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        out.push({ path: formatFieldPath([...at, key]), message: 'unknown field' });
    } else if (issue.code === 'invalid_type' && 'input' in issue && issue.input === undefined) {
      out.push({ path: formatFieldPath(at), message: `is required (${issue.expected})` });
    } else if (issue.code === 'invalid_key') {
      out.push({
        path: formatFieldPath(at),
        message: `invalid name: ${issue.issues.map((i) => i.message).join('; ')}`,
      });
    } else {
      out.push({ path: formatFieldPath(at), message: issue.message });
    }
  }
  return out;
}
