package graph

import (
	"github.com/99designs/gqlgen/graphql"

	"customerservice/db"
	"customerservice/graph/model"
)

// change carries an input field to the db package: omitted leaves the column
// as it is, null clears it.
func change[T any](o graphql.Omittable[T]) db.Change[T] {
	v, ok := o.ValueOK()
	return db.Change[T]{Set: ok, Value: v}
}

func newCustomerFields(in model.CreateCustomerInput) db.CustomerFields {
	return db.CustomerFields{
		Email:       db.To(in.Email),
		FirstName:   change(in.FirstName),
		LastName:    change(in.LastName),
		Phone:       change(in.Phone),
		CompanyName: change(in.CompanyName),
		Metadata:    change(in.Metadata),
	}
}

func customerChanges(in model.UpdateCustomerInput) db.CustomerFields {
	email := db.Change[string]{}
	if v, ok := in.Email.ValueOK(); ok {
		// An explicit null asks to clear the email, which a customer
		// cannot be without; "" is refused as such.
		email.Set = true
		if v != nil {
			email.Value = *v
		}
	}
	return db.CustomerFields{
		Email:       email,
		FirstName:   change(in.FirstName),
		LastName:    change(in.LastName),
		Phone:       change(in.Phone),
		CompanyName: change(in.CompanyName),
		Metadata:    change(in.Metadata),
	}
}

func addressFields(in model.AddressInput) db.AddressFields {
	return db.AddressFields{
		AddressName:       change(in.AddressName),
		IsDefaultShipping: change(in.IsDefaultShipping),
		IsDefaultBilling:  change(in.IsDefaultBilling),
		Company:           change(in.Company),
		FirstName:         change(in.FirstName),
		LastName:          change(in.LastName),
		Address1:          change(in.Address1),
		Address2:          change(in.Address2),
		City:              change(in.City),
		CountryCode:       change(in.CountryCode),
		Province:          change(in.Province),
		PostalCode:        change(in.PostalCode),
		Phone:             change(in.Phone),
		Metadata:          change(in.Metadata),
	}
}

func groupFields(in model.CustomerGroupInput) db.GroupFields {
	return db.GroupFields{Name: in.Name, Metadata: change(in.Metadata)}
}

// deleted is the answer of a delete mutation that succeeded.
func deleted(id, object string, err error) (*model.DeleteResult, error) {
	if err != nil {
		return nil, err
	}
	return &model.DeleteResult{ID: id, Object: object, Deleted: true}, nil
}
