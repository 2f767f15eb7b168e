CREATE TABLE "schedule_runs" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"schedule_id" text NOT NULL,
	"tenant" text NOT NULL,
	"agent_id" text NOT NULL,
	"task_id" bigint,
	"started_at" bigint NOT NULL,
	"completed_at" bigint NOT NULL,
	"stdout" text NOT NULL,
	"stderr" text NOT NULL,
	"exit_code" integer,
	"ok" boolean NOT NULL
);
--> statement-breakpoint
CREATE TABLE "schedules" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant" text NOT NULL,
	"state" text NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	"snapshot" text NOT NULL
);
--> statement-breakpoint
CREATE INDEX "schedule_runs_schedule" ON "schedule_runs" USING btree ("schedule_id","seq");--> statement-breakpoint
CREATE INDEX "schedule_runs_agent" ON "schedule_runs" USING btree ("schedule_id","agent_id","seq");