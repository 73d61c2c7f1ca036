// Command templates (`--switch-command`, `--rollback-command`, probe commands) become argv without a
// shell (spec §11.6: "never a shell"): a closure name or an operator string can never be parsed as
// shell syntax. The split is POSIX-like so templates read naturally; substitution happens per
// argument after the split, so a value can never add or remove arguments.

export type CommandLineError = { code: 'InvalidCommandLine'; input: string; message: string };
export type SplitCommandLineResult = { ok: true; argv: string[] } | { ok: false; error: CommandLineError };

/**
 * Splits on blanks; `'…'` is literal, `"…"` honours `\"`, `\\`, `\$` and `` \` ``, and a backslash
 * outside quotes escapes the next character. No expansion of any kind ($VAR, globs, ~) happens.
 */
export function splitCommandLine(input: string): SplitCommandLineResult {
  const argv: string[] = [];
  let current = '';
  let inWord = false;
  const fail = (message: string): SplitCommandLineResult => ({
    ok: false,
    error: { code: 'InvalidCommandLine', input, message },
  });
  for (let i = 0; i < input.length; i++) {
    const ch = input[i] as string;
    if (ch === ' ' || ch === '\t' || ch === '\n') {
      if (inWord) argv.push(current);
      current = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (ch === "'") {
      const end = input.indexOf("'", i + 1);
      if (end < 0) return fail(`unterminated ' quote in ${JSON.stringify(input)}`);
      current += input.slice(i + 1, end);
      i = end;
    } else if (ch === '"') {
      let j = i + 1;
      for (; j < input.length && input[j] !== '"'; j++) {
        const c = input[j] as string;
        const next = input[j + 1];
        if (c === '\\' && next !== undefined && '"\\$`'.includes(next)) {
          current += next;
          j++;
        } else current += c;
      }
      if (j >= input.length) return fail(`unterminated " quote in ${JSON.stringify(input)}`);
      i = j;
    } else if (ch === '\\') {
      const next = input[i + 1];
      if (next === undefined) return fail(`trailing backslash in ${JSON.stringify(input)}`);
      current += next;
      i++;
    } else current += ch;
  }
  if (inWord) argv.push(current);
  if (argv.length === 0) return fail('the command is empty: give a program and its arguments');
  return { ok: true, argv };
}

/** Replaces `{name}` placeholders in each argument; unknown placeholders are left as written. */
export function expandArgv(argv: readonly string[], vars: Readonly<Record<string, string>>): string[] {
  return argv.map((arg) => arg.replace(/\{([A-Za-z]+)\}/g, (whole, name: string) => vars[name] ?? whole));
}
