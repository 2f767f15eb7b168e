CREATE TABLE `job_logs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`job_id` integer NOT NULL,
	`task_id` integer NOT NULL,
	`severity` integer NOT NULL,
	`progname` text NOT NULL,
	`message` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `job_logs_job` ON `job_logs` (`job_id`,`id`);--> statement-breakpoint
CREATE TABLE `jobs` (
	`id` integer PRIMARY KEY NOT NULL,
	`client` text NOT NULL,
	`workflow` text NOT NULL,
	`state` text NOT NULL,
	`priority` integer NOT NULL,
	`failed` integer NOT NULL,
	`run_at` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`parameters` text NOT NULL,
	`snapshot` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `jobs_client_id` ON `jobs` (`client`,`id`);--> statement-breakpoint
CREATE INDEX `jobs_state` ON `jobs` (`state`);