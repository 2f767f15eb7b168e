CREATE TABLE `task_log` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`task_id` integer NOT NULL,
	`tenant` text NOT NULL,
	`at` integer NOT NULL,
	`action` text NOT NULL,
	`status_before` text,
	`status_after` text,
	`params` text
);
--> statement-breakpoint
CREATE INDEX `task_log_task` ON `task_log` (`task_id`,`seq`);