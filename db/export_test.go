package db

import "io/fs"

// Migrations are the embedded migration files, for tests that run them
// down and up.
var Migrations fs.FS = migrations
