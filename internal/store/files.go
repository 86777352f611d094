package store

import (
	"errors"
	"fmt"
	"os"
)

// The SQLite database and the files SQLite keeps beside it (write-ahead log, shared-memory
// index) hold personal data: they are readable by Privox's user only, whatever the umask.
// SQLite creates the -wal and -shm files with the database file's permissions, so the file is
// made 0600 before SQLite first opens it; files an older release left wider are narrowed.
func secureSQLiteFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("store: create database file: %w", err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("store: restrict database file %s: %w", p, err)
		}
	}
	return nil
}
