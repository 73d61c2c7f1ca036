// Runs once per vitest run, before any test file: finds (or starts) PostgreSQL and builds the
// migrated template that every test file clones. Test files read the results through `inject`.
import type { TestProject } from 'vitest/node';
import { migrateDatabase } from '../../db/index.ts';
import { createTemplateDatabase, dropTemplateDatabase, findPostgresServer } from './postgres.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Maintenance-database URL of the test server. */
    postgresUrl: string;
    /** Name of the migrated template database to clone. */
    postgresTemplate: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await findPostgresServer();
  let template: string;
  try {
    template = await createTemplateDatabase(server.url, migrateDatabase);
  } catch (error) {
    await server.stop();
    throw error;
  }
  project.provide('postgresUrl', server.url);
  project.provide('postgresTemplate', template);
  return async () => {
    try {
      await dropTemplateDatabase(server.url, template);
    } finally {
      await server.stop();
    }
  };
}
