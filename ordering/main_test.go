package ordering_test

import (
	"os"
	"testing"

	"customerservice/db/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }
