export { type CliOutcome, MAX_TOKEN_TTL_MS, type TokenMintOptions, tokenMint } from './tokenMint.ts';
