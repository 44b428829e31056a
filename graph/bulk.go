package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"customerservice/bulk"
	"customerservice/db"
	"customerservice/graph/model"
)

// DefaultMaxUpload bounds an import file sent to import_customers
// (IMPORT_MAX_BYTES): a million customers with an address each take about
// 200 MB as CSV.
const DefaultMaxUpload = 1 << 30

// importCustomers starts an import of the uploaded file in the
// background, acting as the admin user.
func (r *mutationResolver) importCustomers(ctx context.Context, file graphql.Upload, options *model.ImportOptions) (*db.ImportJob, error) {
	var opts bulk.Options
	if options != nil {
		if v, _ := options.DryRun.ValueOK(); v != nil {
			opts.DryRun = *v
		}
		if v, _ := options.OnConflict.ValueOK(); v != nil {
			opts.OnConflict = *v
		}
		if v, _ := options.CreateGroups.ValueOK(); v != nil {
			opts.CreateGroups = *v
		}
	}
	return r.Bulk.Start(ctx, file.File, file.Filename, opts, adminID(ctx))
}

// exportCustomers signs a download link of the customers filter selects.
func (r *mutationResolver) exportCustomers(filter *db.CustomerFilter, format db.FileFormat, withDeleted *bool) (*model.ExportLink, error) {
	var f db.CustomerFilter
	if filter != nil {
		f = *filter
	}
	f.WithDeleted = withDeleted != nil && *withDeleted
	url, expires, err := r.Bulk.ExportLink(f, format)
	if err != nil {
		return nil, err
	}
	return &model.ExportLink{URL: url, ExpiresAt: expires}, nil
}

func rowErrors(j *db.ImportJob) []*db.RowError {
	out := make([]*db.RowError, len(j.Errors))
	for i := range j.Errors {
		out[i] = &j.Errors[i]
	}
	return out
}

func importErrorCode(j *db.ImportJob) *model.ErrorCode {
	if j.ErrorCode == nil {
		return nil
	}
	c := model.ErrorCode(*j.ErrorCode)
	return &c
}
