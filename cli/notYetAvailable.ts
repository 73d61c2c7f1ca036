export function notYetAvailable(command: string, issue: number): never {
  process.stderr.write(`nixfleet ${command}: not yet available (tracked by issue ${issue})\n`);
  process.exit(1);
}
