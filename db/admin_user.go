package db

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// User is a row of admin_user: someone who manages the store.
type User struct {
	ID        string    `db:"id"`
	Email     string    `db:"email"`
	FirstName *string   `db:"first_name"`
	LastName  *string   `db:"last_name"`
	CreatedAt time.Time `db:"created_at"`
}

const userColumns = `u.id, u.email, u.first_name, u.last_name, u.created_at`

// CreateUser adds an admin user; email must be clean. Returns INVALID_DATA
// for bad names and DUPLICATE_ERROR when a user has the email.
func CreateUser(ctx context.Context, q sqlx.QueryerContext, email string, firstName, lastName *string) (*User, error) {
	a := &assignments{}
	a.set("id", NewID(PrefixUser))
	a.set("email", email)
	a.text("first_name", "first_name", To(firstName), maxText)
	a.text("last_name", "last_name", To(lastName), maxText)
	if a.err != nil {
		return nil, a.err
	}
	var out User
	if err := sqlx.GetContext(ctx, q, &out, a.insert("admin_user", "u", userColumns), a.args...); err != nil {
		return nil, fmt.Errorf("create admin user: %w", translate(err, "Admin user with email "+email))
	}
	return &out, nil
}
