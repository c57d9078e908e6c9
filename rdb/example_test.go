package rdb_test

import (
	"fmt"
	"io"
	"log"
	"os"

	"github.com/rdbkit/rdbkit/rdb"
)

// ExampleReader counts the keys of each type in a file and sums the
// elements of its hashes.
func ExampleReader() {
	f, err := os.Open("../testdata/dump.rdb")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	r := rdb.NewReader(f)
	types := map[rdb.Type]int{}
	fields := 0
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		if e.Kind != rdb.KindKey {
			continue
		}
		types[e.Type]++
		if e.Type != rdb.TypeHash {
			continue
		}
		v := e.Value()
		for v.Next() {
			fields++
		}
		if err := v.Err(); err != nil {
			log.Fatal(err)
		}
	}
	_, _, sum := r.Checksum()
	fmt.Println("hashes:", types[rdb.TypeHash], "fields:", fields, "checksum:", sum)
	// Output: hashes: 1 fields: 1 checksum: ok
}
