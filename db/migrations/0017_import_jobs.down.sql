DROP TABLE import_job;
