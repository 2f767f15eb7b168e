CREATE TABLE `batches` (
	`id` integer PRIMARY KEY NOT NULL,
	`tenant` text NOT NULL,
	`state` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`finished_at` integer,
	`snapshot` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `events` (
	`seq` integer PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`entity_id` text NOT NULL,
	`event` text NOT NULL,
	`state` text NOT NULL,
	`tenant` text NOT NULL,
	`at` integer NOT NULL,
	`data` text
);
--> statement-breakpoint
CREATE INDEX `events_entity` ON `events` (`kind`,`entity_id`);--> statement-breakpoint
CREATE TABLE `lanes` (
	`tenant` text NOT NULL,
	`key` text NOT NULL,
	`state` text NOT NULL,
	`updated_at` integer NOT NULL,
	`snapshot` text NOT NULL,
	PRIMARY KEY(`tenant`, `key`)
);
--> statement-breakpoint
CREATE TABLE `meta` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `tasks` (
	`id` integer PRIMARY KEY NOT NULL,
	`tenant` text NOT NULL,
	`name` text NOT NULL,
	`state` text NOT NULL,
	`outcome` text,
	`lane` text,
	`agent_id` text,
	`batch_id` integer,
	`job_id` integer,
	`parent_id` integer,
	`ref_id` text,
	`priority` integer NOT NULL,
	`execute_at` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`finished_at` integer,
	`snapshot` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `tasks_tenant_id` ON `tasks` (`tenant`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_state_execute_at` ON `tasks` (`state`,`execute_at`);--> statement-breakpoint
CREATE INDEX `tasks_batch` ON `tasks` (`batch_id`);