CREATE TABLE "batches" (
	"id" bigint PRIMARY KEY NOT NULL,
	"tenant" text NOT NULL,
	"state" text NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	"finished_at" bigint,
	"snapshot" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "events" (
	"seq" bigint PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"entity_id" text NOT NULL,
	"event" text NOT NULL,
	"state" text NOT NULL,
	"tenant" text NOT NULL,
	"at" bigint NOT NULL,
	"data" text
);
--> statement-breakpoint
CREATE TABLE "lanes" (
	"tenant" text NOT NULL,
	"key" text NOT NULL,
	"state" text NOT NULL,
	"updated_at" bigint NOT NULL,
	"snapshot" text NOT NULL,
	CONSTRAINT "lanes_tenant_key_pk" PRIMARY KEY("tenant","key")
);
--> statement-breakpoint
CREATE TABLE "meta" (
	"key" text PRIMARY KEY NOT NULL,
	"value" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tasks" (
	"id" bigint PRIMARY KEY NOT NULL,
	"tenant" text NOT NULL,
	"name" text NOT NULL,
	"state" text NOT NULL,
	"outcome" text,
	"lane" text,
	"agent_id" text,
	"batch_id" bigint,
	"job_id" bigint,
	"parent_id" bigint,
	"ref_id" text,
	"priority" bigint NOT NULL,
	"execute_at" bigint NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	"finished_at" bigint,
	"snapshot" text NOT NULL
);
--> statement-breakpoint
CREATE INDEX "events_entity" ON "events" USING btree ("kind","entity_id");--> statement-breakpoint
CREATE INDEX "tasks_tenant_id" ON "tasks" USING btree ("tenant","id");--> statement-breakpoint
CREATE INDEX "tasks_state_execute_at" ON "tasks" USING btree ("state","execute_at");--> statement-breakpoint
CREATE INDEX "tasks_batch" ON "tasks" USING btree ("batch_id");