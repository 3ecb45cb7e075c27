CREATE TYPE "public"."model_serving" AS ENUM('openai', 'vllm-classify', 'onnx-local', 'none');--> statement-breakpoint
CREATE TYPE "public"."dataset_version_kind" AS ENUM('preference', 'sft');--> statement-breakpoint
CREATE TYPE "public"."executor_kind" AS ENUM('local', 'ray', 'kubernetes');--> statement-breakpoint
CREATE TYPE "public"."round_status" AS ENUM('planned', 'running', 'succeeded', 'failed', 'cancelled');--> statement-breakpoint
CREATE TYPE "public"."run_kind" AS ENUM('reward', 'rejection-sampling', 'sft', 'dpo', 'merge', 'generate', 'eval', 'register');--> statement-breakpoint
CREATE TYPE "public"."run_status" AS ENUM('pending', 'submitted', 'running', 'succeeded', 'failed', 'cancelled');--> statement-breakpoint
CREATE TABLE "executors" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "executors_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"name" text NOT NULL,
	"kind" "executor_kind" NOT NULL,
	"config" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "rounds" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "rounds_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"name" text NOT NULL,
	"status" "round_status" DEFAULT 'planned' NOT NULL,
	"plan" jsonb NOT NULL,
	"policy_model_id" bigint,
	"dataset_version_id" bigint,
	"executor_id" bigint,
	"project_id" bigint,
	"current_stage" integer DEFAULT 0 NOT NULL,
	"error" text,
	"created_by" bigint,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "run_items" (
	"run_id" bigint NOT NULL,
	"prompt_id" bigint NOT NULL,
	"result" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "runs" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "runs_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"round_id" bigint,
	"stage" integer,
	"kind" "run_kind" NOT NULL,
	"status" "run_status" DEFAULT 'pending' NOT NULL,
	"executor_id" bigint,
	"spec" jsonb NOT NULL,
	"external_id" text,
	"attempt" integer DEFAULT 0 NOT NULL,
	"artifact_prefix" text,
	"metrics" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"progress_done" integer DEFAULT 0 NOT NULL,
	"progress_total" integer,
	"gpus" integer DEFAULT 0 NOT NULL,
	"gpu_seconds" double precision DEFAULT 0 NOT NULL,
	"input_version_id" bigint,
	"output_version_id" bigint,
	"output_model_id" bigint,
	"cancel_requested" boolean DEFAULT false NOT NULL,
	"error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"submitted_at" timestamp with time zone,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"heartbeat_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "models" ADD COLUMN "serving" "model_serving" DEFAULT 'openai' NOT NULL;--> statement-breakpoint
ALTER TABLE "models" ADD COLUMN "artifact_uri" text;--> statement-breakpoint
ALTER TABLE "models" ADD COLUMN "base_model" text;--> statement-breakpoint
ALTER TABLE "models" ADD COLUMN "round_id" bigint;--> statement-breakpoint
ALTER TABLE "models" ADD COLUMN "run_id" bigint;--> statement-breakpoint
ALTER TABLE "models" ADD COLUMN "dataset_version_ids" bigint[] DEFAULT '{}'::bigint[] NOT NULL;--> statement-breakpoint
ALTER TABLE "dataset_versions" ADD COLUMN "kind" "dataset_version_kind" DEFAULT 'preference' NOT NULL;--> statement-breakpoint
ALTER TABLE "rounds" ADD CONSTRAINT "rounds_policy_model_id_models_id_fk" FOREIGN KEY ("policy_model_id") REFERENCES "public"."models"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rounds" ADD CONSTRAINT "rounds_dataset_version_id_dataset_versions_id_fk" FOREIGN KEY ("dataset_version_id") REFERENCES "public"."dataset_versions"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rounds" ADD CONSTRAINT "rounds_executor_id_executors_id_fk" FOREIGN KEY ("executor_id") REFERENCES "public"."executors"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rounds" ADD CONSTRAINT "rounds_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rounds" ADD CONSTRAINT "rounds_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "run_items" ADD CONSTRAINT "run_items_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "run_items" ADD CONSTRAINT "run_items_prompt_id_prompts_id_fk" FOREIGN KEY ("prompt_id") REFERENCES "public"."prompts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "runs" ADD CONSTRAINT "runs_round_id_rounds_id_fk" FOREIGN KEY ("round_id") REFERENCES "public"."rounds"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "runs" ADD CONSTRAINT "runs_executor_id_executors_id_fk" FOREIGN KEY ("executor_id") REFERENCES "public"."executors"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "runs" ADD CONSTRAINT "runs_input_version_id_dataset_versions_id_fk" FOREIGN KEY ("input_version_id") REFERENCES "public"."dataset_versions"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "runs" ADD CONSTRAINT "runs_output_version_id_dataset_versions_id_fk" FOREIGN KEY ("output_version_id") REFERENCES "public"."dataset_versions"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "runs" ADD CONSTRAINT "runs_output_model_id_models_id_fk" FOREIGN KEY ("output_model_id") REFERENCES "public"."models"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "executors_name_key" ON "executors" USING btree ("name");--> statement-breakpoint
CREATE INDEX "rounds_created_idx" ON "rounds" USING btree ("created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "run_items_run_prompt_key" ON "run_items" USING btree ("run_id","prompt_id");--> statement-breakpoint
CREATE INDEX "runs_round_idx" ON "runs" USING btree ("round_id","stage");--> statement-breakpoint
CREATE INDEX "runs_status_idx" ON "runs" USING btree ("status");