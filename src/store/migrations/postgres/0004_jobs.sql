CREATE TABLE "job_logs" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"job_id" bigint NOT NULL,
	"task_id" bigint NOT NULL,
	"severity" integer NOT NULL,
	"progname" text NOT NULL,
	"message" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "jobs" (
	"id" bigint PRIMARY KEY NOT NULL,
	"client" text NOT NULL,
	"workflow" text NOT NULL,
	"state" text NOT NULL,
	"priority" bigint NOT NULL,
	"failed" boolean NOT NULL,
	"run_at" bigint NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	"parameters" text NOT NULL,
	"snapshot" text NOT NULL
);
--> statement-breakpoint
CREATE INDEX "job_logs_job" ON "job_logs" USING btree ("job_id","id");--> statement-breakpoint
CREATE INDEX "jobs_client_id" ON "jobs" USING btree ("client","id");--> statement-breakpoint
CREATE INDEX "jobs_state" ON "jobs" USING btree ("state");