// `npm run bench`: prints figures and ratios against baselines measured in the same run. Benchmarks
// never assert; they report.
import { runActorPersistenceBench } from './actorPersistence.bench.ts';
import { runPlannerBench } from './planner.bench.ts';

console.log(`nixfleet benchmarks — node ${process.version}, ${new Date().toISOString()}`);
await runActorPersistenceBench();
await runPlannerBench();
