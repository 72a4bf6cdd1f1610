package api_test

import (
	"os"
	"testing"

	"switchboard/db/dbtest"
)

// TestMain says how many tests were skipped for want of PostgreSQL.
func TestMain(m *testing.M) {
	code := m.Run()
	dbtest.ReportSkips("switchboard/api")
	os.Exit(code)
}
