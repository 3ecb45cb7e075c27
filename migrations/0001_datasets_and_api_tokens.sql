CREATE TYPE "public"."dataset_version_status" AS ENUM('queued', 'running', 'succeeded', 'failed', 'cancelled');--> statement-breakpoint
CREATE TYPE "public"."api_token_access" AS ENUM('read', 'write');--> statement-breakpoint
ALTER TYPE "public"."export_format" ADD VALUE 'parquet';--> statement-breakpoint
CREATE TABLE "dataset_version_judgments" (
	"version_id" bigint NOT NULL,
	"judgment_id" bigint NOT NULL,
	CONSTRAINT "dataset_version_judgments_version_id_judgment_id_pk" PRIMARY KEY("version_id","judgment_id")
);
--> statement-breakpoint
CREATE TABLE "dataset_version_projects" (
	"version_id" bigint NOT NULL,
	"project_id" bigint NOT NULL,
	CONSTRAINT "dataset_version_projects_version_id_project_id_pk" PRIMARY KEY("version_id","project_id")
);
--> statement-breakpoint
CREATE TABLE "dataset_versions" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "dataset_versions_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"name" text NOT NULL,
	"spec" jsonb NOT NULL,
	"status" "dataset_version_status" DEFAULT 'queued' NOT NULL,
	"progress_done" integer DEFAULT 0 NOT NULL,
	"progress_total" integer,
	"manifest" jsonb,
	"content_hash" text,
	"artifact_prefix" text,
	"error" text,
	"created_by" bigint,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"heartbeat_at" timestamp with time zone,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "api_token_projects" (
	"token_id" bigint NOT NULL,
	"project_id" bigint NOT NULL,
	CONSTRAINT "api_token_projects_token_id_project_id_pk" PRIMARY KEY("token_id","project_id")
);
--> statement-breakpoint
CREATE TABLE "api_tokens" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "api_tokens_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"name" text NOT NULL,
	"token_hash" text NOT NULL,
	"prefix" text NOT NULL,
	"access" "api_token_access" DEFAULT 'read' NOT NULL,
	"created_by" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone,
	"last_used_at" timestamp with time zone,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "judgments" ADD COLUMN "source" text;--> statement-breakpoint
ALTER TABLE "dataset_version_judgments" ADD CONSTRAINT "dataset_version_judgments_version_id_dataset_versions_id_fk" FOREIGN KEY ("version_id") REFERENCES "public"."dataset_versions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dataset_version_judgments" ADD CONSTRAINT "dataset_version_judgments_judgment_id_judgments_id_fk" FOREIGN KEY ("judgment_id") REFERENCES "public"."judgments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dataset_version_projects" ADD CONSTRAINT "dataset_version_projects_version_id_dataset_versions_id_fk" FOREIGN KEY ("version_id") REFERENCES "public"."dataset_versions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dataset_version_projects" ADD CONSTRAINT "dataset_version_projects_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dataset_versions" ADD CONSTRAINT "dataset_versions_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_token_projects" ADD CONSTRAINT "api_token_projects_token_id_api_tokens_id_fk" FOREIGN KEY ("token_id") REFERENCES "public"."api_tokens"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_token_projects" ADD CONSTRAINT "api_token_projects_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "dataset_version_judgments_judgment_idx" ON "dataset_version_judgments" USING btree ("judgment_id");--> statement-breakpoint
CREATE INDEX "dataset_version_projects_project_idx" ON "dataset_version_projects" USING btree ("project_id");--> statement-breakpoint
CREATE INDEX "dataset_versions_created_idx" ON "dataset_versions" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "api_token_projects_project_idx" ON "api_token_projects" USING btree ("project_id");--> statement-breakpoint
CREATE UNIQUE INDEX "api_tokens_hash_key" ON "api_tokens" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "api_tokens_created_by_idx" ON "api_tokens" USING btree ("created_by");