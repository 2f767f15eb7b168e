CREATE TABLE `schedule_runs` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`schedule_id` text NOT NULL,
	`tenant` text NOT NULL,
	`agent_id` text NOT NULL,
	`task_id` integer,
	`started_at` integer NOT NULL,
	`completed_at` integer NOT NULL,
	`stdout` text NOT NULL,
	`stderr` text NOT NULL,
	`exit_code` integer,
	`ok` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `schedule_runs_schedule` ON `schedule_runs` (`schedule_id`,`seq`);--> statement-breakpoint
CREATE INDEX `schedule_runs_agent` ON `schedule_runs` (`schedule_id`,`agent_id`,`seq`);--> statement-breakpoint
CREATE TABLE `schedules` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant` text NOT NULL,
	`state` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`snapshot` text NOT NULL
);
