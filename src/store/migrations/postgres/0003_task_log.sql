CREATE TABLE "task_log" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"task_id" bigint NOT NULL,
	"tenant" text NOT NULL,
	"at" bigint NOT NULL,
	"action" text NOT NULL,
	"status_before" text,
	"status_after" text,
	"params" text
);
--> statement-breakpoint
CREATE INDEX "task_log_task" ON "task_log" USING btree ("task_id","seq");