// JSON lines on stderr (contract §1); `--log-format pretty` renders the same records as one short
// line each for people. Only the daemon's entry point creates a logger; everything else takes one.
import { Writable } from 'node:stream';
import { type Logger, pino } from 'pino';

export type { Logger } from 'pino';

export interface CpLoggerOptions {
  format: 'json' | 'pretty';
  level: string;
  /** Default: file descriptor 2. */
  destination?: NodeJS.WritableStream;
}

function prettyStream(out: NodeJS.WritableStream): Writable {
  let pending = '';
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      pending += chunk.toString('utf8');
      let nl = pending.indexOf('\n');
      while (nl >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        out.write(`${prettyLine(line)}\n`);
        nl = pending.indexOf('\n');
      }
      done();
    },
  });
}

const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

function prettyLine(line: string): string {
  try {
    const {
      time,
      level,
      msg,
      pid: _pid,
      hostname: _h,
      ...rest
    } = JSON.parse(line) as Record<string, unknown>;
    const when = typeof time === 'number' ? new Date(time).toISOString() : '';
    const fields = Object.entries(rest)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    return `${when} ${(LEVELS[Number(level)] ?? String(level)).padEnd(5)} ${String(msg ?? '')}${fields === '' ? '' : ` ${fields}`}`;
  } catch {
    return line;
  }
}

export function createCpLogger(options: CpLoggerOptions): Logger {
  const out: NodeJS.WritableStream =
    options.destination ?? (pino.destination({ fd: 2, sync: true }) as unknown as NodeJS.WritableStream);
  const stream = options.format === 'pretty' ? prettyStream(out) : out;
  return pino({ level: options.level, base: { component: 'cp' } }, stream as pino.DestinationStream);
}
