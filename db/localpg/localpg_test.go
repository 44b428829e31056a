package localpg_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"customerservice/db/localpg"
)

func TestNoBinariesSaysWhatToInstall(t *testing.T) {
	_, err := localpg.Start(context.Background(), localpg.Options{Dir: t.TempDir(), BinDir: t.TempDir()})
	if !errors.Is(err, localpg.ErrNoBinaries) {
		t.Fatalf("err = %v, want ErrNoBinaries", err)
	}
	for _, want := range []string{"apt-get install postgresql", "DATABASE_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not mention %q: %v", want, err)
		}
	}
}
