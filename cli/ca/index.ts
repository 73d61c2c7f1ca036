export { CA_FILES, type CaInitOptions, type CliOutcome, caInit } from './caInit.ts';
