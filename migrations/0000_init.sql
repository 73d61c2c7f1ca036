CREATE TABLE "actor_timers" (
	"actor_key" text NOT NULL,
	"timer_id" text NOT NULL,
	"event" jsonb NOT NULL,
	"due_at" timestamp with time zone NOT NULL,
	CONSTRAINT "actor_timers_pkey" PRIMARY KEY("actor_key","timer_id")
);
--> statement-breakpoint
CREATE TABLE "cert_audit" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"issued_at" timestamp with time zone NOT NULL,
	"requester_cn" text NOT NULL,
	"issued_cn" text NOT NULL,
	"serial" text NOT NULL,
	"not_after" timestamp with time zone NOT NULL,
	"context" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "cert_revocations" (
	"hostname" text PRIMARY KEY NOT NULL,
	"not_before" timestamp with time zone NOT NULL,
	"reason" text,
	"revoked_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_by" text
);
--> statement-breakpoint
CREATE TABLE "dispatch_queue" (
	"hostname" text NOT NULL,
	"rollout_id" text NOT NULL,
	"target_closure" text NOT NULL,
	"soak_due_at" timestamp with time zone NOT NULL,
	"enqueued_at" timestamp with time zone NOT NULL,
	CONSTRAINT "dispatch_queue_pkey" PRIMARY KEY("hostname","rollout_id")
);
--> statement-breakpoint
CREATE TABLE "effect_outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"actor_key" text NOT NULL,
	"actor_seq" bigint NOT NULL,
	"idx" integer NOT NULL,
	"effect" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"done_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "event_log" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"ts" timestamp with time zone NOT NULL,
	"host_id" text,
	"rollout_id" text,
	"kind" text NOT NULL,
	"payload" jsonb NOT NULL,
	"actor_seq" bigint,
	CONSTRAINT "event_log_kind_check" CHECK ("event_log"."kind" IN ('agent_event', 'effect', 'rollout_event', 'plan', 'heartbeat', 'operator', 'recovery')),
	CONSTRAINT "event_log_agent_event_key_check" CHECK ("event_log"."kind" <> 'agent_event' OR ("event_log"."host_id" IS NOT NULL AND "event_log"."rollout_id" IS NOT NULL AND "event_log"."actor_seq" IS NOT NULL))
);
--> statement-breakpoint
CREATE TABLE "host_presence" (
	"hostname" text PRIMARY KEY NOT NULL,
	"last_heartbeat_at" timestamp with time zone NOT NULL,
	"current_closure" text,
	"agent_version" text
);
--> statement-breakpoint
CREATE TABLE "host_rollout_records" (
	"rollout_id" text NOT NULL,
	"hostname" text NOT NULL,
	"channel" text NOT NULL,
	"state" text NOT NULL,
	"target_closure" text NOT NULL,
	"current_closure_at_dispatch" text,
	"current_closure" text,
	"reverted_to" text,
	"dispatched_at" timestamp with time zone NOT NULL,
	"dispatch_acked_at" timestamp with time zone,
	"activation_started_at" timestamp with time zone,
	"activation_completed_at" timestamp with time zone,
	"activation_failed_at" timestamp with time zone,
	"probe_observed_first_at" timestamp with time zone,
	"probe_failure_first_at" timestamp with time zone,
	"soak_due_at" timestamp with time zone,
	"converged_at" timestamp with time zone,
	"failed_at" timestamp with time zone,
	"reverted_at" timestamp with time zone,
	"policy_applied" text,
	"probes_json" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"last_event_seq" bigint DEFAULT 0 NOT NULL,
	"wave" integer DEFAULT 0 NOT NULL,
	"machine_id" text NOT NULL,
	"machine_version" integer NOT NULL,
	"snapshot" jsonb NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"restore_error" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "host_rollout_records_pkey" PRIMARY KEY("rollout_id","hostname"),
	CONSTRAINT "host_rollout_records_state_check" CHECK ("host_rollout_records"."state" IN ('Pending', 'Activating', 'Deferred', 'Soaking', 'Converged', 'Failed', 'Reverted')),
	CONSTRAINT "host_rollout_records_policy_applied_check" CHECK ("host_rollout_records"."policy_applied" IS NULL OR "host_rollout_records"."policy_applied" IN ('halt', 'rollback-and-halt')),
	CONSTRAINT "host_rollout_records_status_check" CHECK ("host_rollout_records"."status" IN ('active', 'done', 'quarantined'))
);
--> statement-breakpoint
CREATE TABLE "probe_failures" (
	"event_log_seq" bigint,
	"rollout_id" text NOT NULL,
	"host_id" text NOT NULL,
	"probe_name" text NOT NULL,
	"control_id" text,
	"framework" text,
	"observed_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "quarantined_closures" (
	"channel" text NOT NULL,
	"closure_hash" text NOT NULL,
	"quarantined_at" timestamp with time zone NOT NULL,
	"triggering_event_log_seq" bigint,
	CONSTRAINT "quarantined_closures_pkey" PRIMARY KEY("channel","closure_hash")
);
--> statement-breakpoint
CREATE TABLE "rollouts" (
	"rollout_id" text PRIMARY KEY NOT NULL,
	"channel" text NOT NULL,
	"target_ref" text NOT NULL,
	"state" text NOT NULL,
	"current_wave" integer DEFAULT 0 NOT NULL,
	"opened_event_log_seq" bigint,
	"last_transition_event_log_seq" bigint,
	"opened_at" timestamp with time zone NOT NULL,
	"terminal_at" timestamp with time zone,
	"superseded_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"machine_id" text NOT NULL,
	"machine_version" integer NOT NULL,
	"snapshot" jsonb NOT NULL,
	"last_event_seq" bigint DEFAULT 0 NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"restore_error" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "rollouts_state_check" CHECK ("rollouts"."state" IN ('Opening', 'Active', 'Converging', 'Terminal', 'Reverted', 'Failed', 'Superseded', 'Pruned')),
	CONSTRAINT "rollouts_status_check" CHECK ("rollouts"."status" IN ('active', 'done', 'quarantined'))
);
--> statement-breakpoint
CREATE TABLE "token_replay" (
	"nonce" text PRIMARY KEY NOT NULL,
	"hostname" text NOT NULL,
	"first_seen" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "host_rollout_records" ADD CONSTRAINT "host_rollout_records_rollout_id_rollouts_rollout_id_fk" FOREIGN KEY ("rollout_id") REFERENCES "public"."rollouts"("rollout_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "probe_failures" ADD CONSTRAINT "probe_failures_event_log_seq_event_log_seq_fk" FOREIGN KEY ("event_log_seq") REFERENCES "public"."event_log"("seq") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "quarantined_closures" ADD CONSTRAINT "quarantined_closures_triggering_event_log_seq_event_log_seq_fk" FOREIGN KEY ("triggering_event_log_seq") REFERENCES "public"."event_log"("seq") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollouts" ADD CONSTRAINT "rollouts_opened_event_log_seq_event_log_seq_fk" FOREIGN KEY ("opened_event_log_seq") REFERENCES "public"."event_log"("seq") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollouts" ADD CONSTRAINT "rollouts_last_transition_event_log_seq_event_log_seq_fk" FOREIGN KEY ("last_transition_event_log_seq") REFERENCES "public"."event_log"("seq") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "actor_timers_due_at_idx" ON "actor_timers" USING btree ("due_at");--> statement-breakpoint
CREATE INDEX "cert_audit_issued_cn_idx" ON "cert_audit" USING btree ("issued_cn","issued_at");--> statement-breakpoint
CREATE INDEX "dispatch_queue_hostname_idx" ON "dispatch_queue" USING btree ("hostname","enqueued_at");--> statement-breakpoint
CREATE UNIQUE INDEX "effect_outbox_step_key" ON "effect_outbox" USING btree ("actor_key","actor_seq","idx");--> statement-breakpoint
CREATE INDEX "effect_outbox_pending_idx" ON "effect_outbox" USING btree ("id") WHERE "effect_outbox"."done_at" IS NULL;--> statement-breakpoint
CREATE INDEX "event_log_host_ts_idx" ON "event_log" USING btree ("host_id","ts") WHERE "event_log"."host_id" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "event_log_rollout_seq_idx" ON "event_log" USING btree ("rollout_id","seq") WHERE "event_log"."rollout_id" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "event_log_kind_ts_idx" ON "event_log" USING btree ("kind","ts");--> statement-breakpoint
CREATE UNIQUE INDEX "event_log_agent_event_key" ON "event_log" USING btree ("host_id","rollout_id","actor_seq") WHERE "event_log"."kind" = 'agent_event';--> statement-breakpoint
CREATE INDEX "host_rollout_records_hostname_idx" ON "host_rollout_records" USING btree ("hostname");--> statement-breakpoint
CREATE INDEX "host_rollout_records_channel_state_idx" ON "host_rollout_records" USING btree ("channel","state");--> statement-breakpoint
CREATE INDEX "host_rollout_records_active_idx" ON "host_rollout_records" USING btree ("rollout_id") WHERE "host_rollout_records"."status" = 'active';--> statement-breakpoint
CREATE INDEX "probe_failures_rollout_host_control_idx" ON "probe_failures" USING btree ("rollout_id","host_id","control_id");--> statement-breakpoint
CREATE INDEX "probe_failures_event_log_seq_idx" ON "probe_failures" USING btree ("event_log_seq");--> statement-breakpoint
CREATE INDEX "quarantined_closures_channel_idx" ON "quarantined_closures" USING btree ("channel");--> statement-breakpoint
CREATE INDEX "rollouts_channel_state_idx" ON "rollouts" USING btree ("channel","state");--> statement-breakpoint
CREATE INDEX "rollouts_live_state_idx" ON "rollouts" USING btree ("state") WHERE "rollouts"."state" IN ('Opening', 'Active', 'Converging', 'Reverted', 'Failed');--> statement-breakpoint
CREATE INDEX "token_replay_first_seen_idx" ON "token_replay" USING btree ("first_seen");