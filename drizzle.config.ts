// drizzle-kit reads this for `npm run db:generate` / `db:check`. The application never uses it: it
// applies the generated SQL itself at startup (db/migrate.ts).
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './db/schema.ts',
  out: './migrations',
  strict: true,
  verbose: true,
});
