-- Which endpoint made a job (image_generation or image_edit), so GET /v1/jobs lists it without opening each job.
ALTER TABLE jobs ADD COLUMN operation TEXT NOT NULL DEFAULT 'image_generation';
