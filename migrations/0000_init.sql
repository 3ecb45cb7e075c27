CREATE TYPE "public"."user_role" AS ENUM('admin', 'reviewer', 'annotator');--> statement-breakpoint
CREATE TYPE "public"."edit_mode" AS ENUM('off', 'optional', 'required');--> statement-breakpoint
CREATE TYPE "public"."response_origin" AS ENUM('model', 'human', 'edit');--> statement-breakpoint
CREATE TYPE "public"."assignment_status" AS ENUM('active', 'submitted', 'skipped');--> statement-breakpoint
CREATE TYPE "public"."preference_strength" AS ENUM('significantly_better', 'better', 'slightly_better', 'marginally_better');--> statement-breakpoint
CREATE TYPE "public"."review_decision" AS ENUM('accept', 'reject', 'correct');--> statement-breakpoint
CREATE TYPE "public"."export_format" AS ENUM('trl', 'trl-implicit', 'openai', 'hh-rlhf', 'sft');--> statement-breakpoint
CREATE TYPE "public"."export_status" AS ENUM('queued', 'running', 'succeeded', 'failed');--> statement-breakpoint
CREATE TYPE "public"."model_kind" AS ENUM('policy', 'reward');--> statement-breakpoint
CREATE TABLE "users" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "users_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"email" text NOT NULL,
	"name" text,
	"password_hash" text NOT NULL,
	"role" "user_role" DEFAULT 'annotator' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "guideline_reads" (
	"user_id" bigint NOT NULL,
	"project_id" bigint NOT NULL,
	"version" integer NOT NULL,
	"read_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "guideline_reads_user_id_project_id_pk" PRIMARY KEY("user_id","project_id")
);
--> statement-breakpoint
CREATE TABLE "project_guidelines" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "project_guidelines_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"project_id" bigint NOT NULL,
	"version" integer NOT NULL,
	"body" text NOT NULL,
	"created_by" bigint,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "project_members" (
	"project_id" bigint NOT NULL,
	"user_id" bigint NOT NULL,
	"role" "user_role" NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "project_members_project_id_user_id_pk" PRIMARY KEY("project_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "projects" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "projects_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"slug" text NOT NULL,
	"name" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"judgments_required" integer DEFAULT 1 NOT NULL,
	"lease_seconds" integer DEFAULT 900 NOT NULL,
	"edit_mode" "edit_mode" DEFAULT 'optional' NOT NULL,
	"allow_ties" boolean DEFAULT false NOT NULL,
	"ranking_strength" boolean DEFAULT false NOT NULL,
	"live" boolean DEFAULT false NOT NULL,
	"gold_rate" real DEFAULT 0.1 NOT NULL,
	"gold_threshold" real DEFAULT 0.7 NOT NULL,
	"gold_min_items" integer DEFAULT 5 NOT NULL,
	"pause_below_gold" boolean DEFAULT false NOT NULL,
	"review_sample_rate" real DEFAULT 0.05 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "projects_judgments_required_positive" CHECK ("projects"."judgments_required" >= 1),
	CONSTRAINT "projects_lease_seconds_positive" CHECK ("projects"."lease_seconds" >= 10),
	CONSTRAINT "projects_rates_are_shares" CHECK ("projects"."gold_rate" between 0 and 1 and "projects"."gold_threshold" between 0 and 1 and "projects"."review_sample_rate" between 0 and 1)
);
--> statement-breakpoint
CREATE TABLE "comparison_responses" (
	"comparison_id" bigint NOT NULL,
	"position" integer NOT NULL,
	"response_id" bigint NOT NULL,
	CONSTRAINT "comparison_responses_comparison_id_position_pk" PRIMARY KEY("comparison_id","position")
);
--> statement-breakpoint
CREATE TABLE "comparisons" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "comparisons_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"project_id" bigint NOT NULL,
	"prompt_id" bigint NOT NULL,
	"external_id" text,
	"content_hash" text NOT NULL,
	"judgments_required" integer NOT NULL,
	"judgment_count" integer DEFAULT 0 NOT NULL,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"gold_choice" integer,
	"gold_min_strength" "preference_strength",
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "comparisons_judgments_required_positive" CHECK ("comparisons"."judgments_required" >= 1)
);
--> statement-breakpoint
CREATE TABLE "prompts" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "prompts_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"project_id" bigint NOT NULL,
	"messages" jsonb NOT NULL,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"content_hash" text NOT NULL,
	"token_count" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "responses" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "responses_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"prompt_id" bigint NOT NULL,
	"messages" jsonb NOT NULL,
	"model" text,
	"origin" "response_origin" DEFAULT 'model' NOT NULL,
	"parent_response_id" bigint,
	"author_id" bigint,
	"sampling" jsonb,
	"token_count" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "assignments" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "assignments_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"comparison_id" bigint NOT NULL,
	"annotator_id" bigint NOT NULL,
	"shown_response_ids" bigint[] NOT NULL,
	"status" "assignment_status" DEFAULT 'active' NOT NULL,
	"leased_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"skip_reason" text
);
--> statement-breakpoint
CREATE TABLE "judgment_ranks" (
	"judgment_id" bigint NOT NULL,
	"response_id" bigint NOT NULL,
	"rank" integer NOT NULL,
	CONSTRAINT "judgment_ranks_judgment_id_response_id_pk" PRIMARY KEY("judgment_id","response_id"),
	CONSTRAINT "judgment_ranks_rank_positive" CHECK ("judgment_ranks"."rank" >= 1)
);
--> statement-breakpoint
CREATE TABLE "judgments" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "judgments_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"project_id" bigint NOT NULL,
	"comparison_id" bigint NOT NULL,
	"assignment_id" bigint NOT NULL,
	"annotator_id" bigint NOT NULL,
	"chosen_response_id" bigint,
	"rejected_response_id" bigint,
	"chosen_position" integer,
	"strength" "preference_strength",
	"rank_strengths" "preference_strength"[],
	"edited_response_id" bigint,
	"flags" text[] DEFAULT '{}'::text[] NOT NULL,
	"guidelines_version" integer,
	"rationale" text,
	"time_spent_ms" integer NOT NULL,
	"client_submission_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "judgments_time_spent_nonnegative" CHECK ("judgments"."time_spent_ms" >= 0),
	CONSTRAINT "judgments_chosen_differs" CHECK ("judgments"."chosen_response_id" <> "judgments"."rejected_response_id")
);
--> statement-breakpoint
CREATE TABLE "reviews" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "reviews_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"judgment_id" bigint NOT NULL,
	"project_id" bigint NOT NULL,
	"reviewer_id" bigint NOT NULL,
	"decision" "review_decision" NOT NULL,
	"corrected_choice" integer,
	"corrected_strength" "preference_strength",
	"note" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "exports" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "exports_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"project_id" bigint NOT NULL,
	"format" "export_format" NOT NULL,
	"status" "export_status" DEFAULT 'queued' NOT NULL,
	"requested_by" bigint,
	"row_count" integer,
	"artifact_key" text,
	"error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "models" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "models_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"name" text NOT NULL,
	"kind" "model_kind" DEFAULT 'policy' NOT NULL,
	"base_url" text NOT NULL,
	"api_model" text NOT NULL,
	"api_key_env" text,
	"sampling" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "project_models" (
	"project_id" bigint NOT NULL,
	"model_id" bigint NOT NULL,
	CONSTRAINT "project_models_project_id_model_id_pk" PRIMARY KEY("project_id","model_id")
);
--> statement-breakpoint
CREATE TABLE "live_turns" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "live_turns_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"project_id" bigint NOT NULL,
	"annotator_id" bigint NOT NULL,
	"parent_turn_id" bigint,
	"prompt_id" bigint NOT NULL,
	"model_ids" bigint[] NOT NULL,
	"response_ids" bigint[] NOT NULL,
	"comparison_id" bigint,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "guideline_reads" ADD CONSTRAINT "guideline_reads_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "guideline_reads" ADD CONSTRAINT "guideline_reads_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "project_guidelines" ADD CONSTRAINT "project_guidelines_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "project_guidelines" ADD CONSTRAINT "project_guidelines_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "project_members" ADD CONSTRAINT "project_members_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "project_members" ADD CONSTRAINT "project_members_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "comparison_responses" ADD CONSTRAINT "comparison_responses_comparison_id_comparisons_id_fk" FOREIGN KEY ("comparison_id") REFERENCES "public"."comparisons"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "comparison_responses" ADD CONSTRAINT "comparison_responses_response_id_responses_id_fk" FOREIGN KEY ("response_id") REFERENCES "public"."responses"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "comparisons" ADD CONSTRAINT "comparisons_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "comparisons" ADD CONSTRAINT "comparisons_prompt_id_prompts_id_fk" FOREIGN KEY ("prompt_id") REFERENCES "public"."prompts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "prompts" ADD CONSTRAINT "prompts_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "responses" ADD CONSTRAINT "responses_prompt_id_prompts_id_fk" FOREIGN KEY ("prompt_id") REFERENCES "public"."prompts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "responses" ADD CONSTRAINT "responses_author_id_users_id_fk" FOREIGN KEY ("author_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "assignments" ADD CONSTRAINT "assignments_comparison_id_comparisons_id_fk" FOREIGN KEY ("comparison_id") REFERENCES "public"."comparisons"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "assignments" ADD CONSTRAINT "assignments_annotator_id_users_id_fk" FOREIGN KEY ("annotator_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "judgment_ranks" ADD CONSTRAINT "judgment_ranks_judgment_id_judgments_id_fk" FOREIGN KEY ("judgment_id") REFERENCES "public"."judgments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "judgment_ranks" ADD CONSTRAINT "judgment_ranks_response_id_responses_id_fk" FOREIGN KEY ("response_id") REFERENCES "public"."responses"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "judgments" ADD CONSTRAINT "judgments_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "judgments" ADD CONSTRAINT "judgments_comparison_id_comparisons_id_fk" FOREIGN KEY ("comparison_id") REFERENCES "public"."comparisons"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "judgments" ADD CONSTRAINT "judgments_assignment_id_assignments_id_fk" FOREIGN KEY ("assignment_id") REFERENCES "public"."assignments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "judgments" ADD CONSTRAINT "judgments_annotator_id_users_id_fk" FOREIGN KEY ("annotator_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "judgments" ADD CONSTRAINT "judgments_chosen_response_id_responses_id_fk" FOREIGN KEY ("chosen_response_id") REFERENCES "public"."responses"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "judgments" ADD CONSTRAINT "judgments_rejected_response_id_responses_id_fk" FOREIGN KEY ("rejected_response_id") REFERENCES "public"."responses"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "judgments" ADD CONSTRAINT "judgments_edited_response_id_responses_id_fk" FOREIGN KEY ("edited_response_id") REFERENCES "public"."responses"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "reviews" ADD CONSTRAINT "reviews_judgment_id_judgments_id_fk" FOREIGN KEY ("judgment_id") REFERENCES "public"."judgments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "reviews" ADD CONSTRAINT "reviews_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "reviews" ADD CONSTRAINT "reviews_reviewer_id_users_id_fk" FOREIGN KEY ("reviewer_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "exports" ADD CONSTRAINT "exports_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "exports" ADD CONSTRAINT "exports_requested_by_users_id_fk" FOREIGN KEY ("requested_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "project_models" ADD CONSTRAINT "project_models_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "project_models" ADD CONSTRAINT "project_models_model_id_models_id_fk" FOREIGN KEY ("model_id") REFERENCES "public"."models"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "live_turns" ADD CONSTRAINT "live_turns_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "live_turns" ADD CONSTRAINT "live_turns_annotator_id_users_id_fk" FOREIGN KEY ("annotator_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "live_turns" ADD CONSTRAINT "live_turns_prompt_id_prompts_id_fk" FOREIGN KEY ("prompt_id") REFERENCES "public"."prompts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "live_turns" ADD CONSTRAINT "live_turns_comparison_id_comparisons_id_fk" FOREIGN KEY ("comparison_id") REFERENCES "public"."comparisons"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "users_email_key" ON "users" USING btree ("email");--> statement-breakpoint
CREATE UNIQUE INDEX "project_guidelines_version_key" ON "project_guidelines" USING btree ("project_id","version");--> statement-breakpoint
CREATE INDEX "project_members_user_idx" ON "project_members" USING btree ("user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "projects_slug_key" ON "projects" USING btree ("slug");--> statement-breakpoint
CREATE INDEX "comparison_responses_response_idx" ON "comparison_responses" USING btree ("response_id");--> statement-breakpoint
CREATE INDEX "comparisons_gold_idx" ON "comparisons" USING btree ("project_id") WHERE "comparisons"."gold_choice" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "comparisons_project_external_id_key" ON "comparisons" USING btree ("project_id","external_id");--> statement-breakpoint
CREATE UNIQUE INDEX "comparisons_project_hash_key" ON "comparisons" USING btree ("project_id","content_hash");--> statement-breakpoint
CREATE INDEX "comparisons_open_queue_idx" ON "comparisons" USING btree ("project_id","id") WHERE "comparisons"."judgment_count" < "comparisons"."judgments_required";--> statement-breakpoint
CREATE UNIQUE INDEX "prompts_project_hash_key" ON "prompts" USING btree ("project_id","content_hash");--> statement-breakpoint
CREATE INDEX "responses_prompt_idx" ON "responses" USING btree ("prompt_id");--> statement-breakpoint
CREATE UNIQUE INDEX "assignments_comparison_annotator_key" ON "assignments" USING btree ("comparison_id","annotator_id");--> statement-breakpoint
CREATE INDEX "assignments_annotator_active_idx" ON "assignments" USING btree ("annotator_id","expires_at") WHERE "assignments"."status" = 'active';--> statement-breakpoint
CREATE UNIQUE INDEX "judgments_annotator_submission_key" ON "judgments" USING btree ("annotator_id","client_submission_id");--> statement-breakpoint
CREATE UNIQUE INDEX "judgments_comparison_annotator_key" ON "judgments" USING btree ("comparison_id","annotator_id");--> statement-breakpoint
CREATE INDEX "judgments_project_idx" ON "judgments" USING btree ("project_id","id");--> statement-breakpoint
CREATE INDEX "judgments_annotator_created_idx" ON "judgments" USING btree ("annotator_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "reviews_judgment_key" ON "reviews" USING btree ("judgment_id");--> statement-breakpoint
CREATE INDEX "reviews_project_idx" ON "reviews" USING btree ("project_id","created_at");--> statement-breakpoint
CREATE INDEX "exports_project_created_idx" ON "exports" USING btree ("project_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "models_name_key" ON "models" USING btree ("name");--> statement-breakpoint
CREATE INDEX "live_turns_annotator_idx" ON "live_turns" USING btree ("annotator_id","created_at");--> statement-breakpoint
CREATE INDEX "live_turns_comparison_idx" ON "live_turns" USING btree ("comparison_id");