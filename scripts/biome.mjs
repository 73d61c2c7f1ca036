#!/usr/bin/env node
// Runs Biome's native binary straight from its platform package. The `@biomejs/biome` wrapper
// lists optional packages for every platform, and the registry this project installs from does not
// carry them all, so `npm ci` would refuse the lock file; the two Linux builds are all we need.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const pkg = `@biomejs/cli-${process.platform}-${process.arch}`;
let binary;
try {
  binary = join(dirname(createRequire(import.meta.url).resolve(`${pkg}/package.json`)), 'biome');
} catch {
  process.stderr.write(
    `biome: no ${pkg} installed; nixfleet's lint runs on linux x64/arm64 (see package.json)\n`,
  );
  process.exit(2);
}
const r = spawnSync(binary, process.argv.slice(2), { stdio: 'inherit' });
process.exit(r.status ?? 1);
