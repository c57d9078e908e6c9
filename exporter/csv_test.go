package exporter

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rdbkit/rdbkit/internal/fixtures"
	"github.com/rdbkit/rdbkit/rdb"
)

func TestCSVKey(t *testing.T) {
	tests := []struct{ key, want string }{
		{"user:1", "user:1"},
		{"", ""},
		{"a,b\"c\nd", `"a,b""c` + "\nd\""},
		{"clé ☃", "clé ☃"},
		{"\xff\x00", "base64:/wA="},
		{"base64:abc", "base64:YmFzZTY0OmFiYw=="},
		{"base64", "base64"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		w := NewCSV(&b)
		e := &rdb.Entry{Kind: rdb.KindKey, Key: []byte(tt.key), Type: rdb.TypeString, Encoding: rdb.EncString,
			Payload: rdb.AppendString([]byte{0}, []byte("v"))}
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		want := "db,key,type,encoding,expire_at,size,elements\n0," + tt.want + ",string,embstr,,3,1\n"
		if b.String() != want {
			t.Errorf("key %q:\n got %q\nwant %q", tt.key, b.String(), want)
		}
		rows, err := csv.NewReader(&b).ReadAll()
		if err != nil || len(rows) != 2 {
			t.Fatalf("%q: %v", b.String(), err)
		}
		if got := csvKey(t, rows[1][1]); got != tt.key {
			t.Errorf("key %q read back as %q", tt.key, got)
		}
	}
	var b bytes.Buffer
	w := NewCSV(&b)
	if err := w.Close(); err != nil || b.String() != "db,key,type,encoding,expire_at,size,elements\n" {
		t.Errorf("empty: %q, %v", b.String(), err)
	}
}

// csvKey decodes the key column.
func csvKey(t *testing.T, s string) string {
	if b64, ok := strings.CutPrefix(s, "base64:"); ok {
		k, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatalf("key %q: %v", s, err)
		}
		return string(k)
	}
	return s
}

// TestCSVMatchesDecoder reads CSV output back with encoding/csv and
// compares each row with what the decoder says of the key, with values
// in memory and streamed (size empty).
func TestCSVMatchesDecoder(t *testing.T) {
	files := []string{dumpRDB}
	for _, rel := range []string{
		"generated/redis-7.2/all-in-one.rdb",
		"generated/redis-7.4/all-in-one.rdb",
		"generated/valkey-8.0/all-in-one.rdb",
		"generated/redis-7.0.15/lists.rdb",
		"corpus/librdb/test/dumps/module_aux_v12.rdb",
	} {
		files = append(files, sharedFile(t, rel))
	}
	for _, path := range files {
		for _, maxPayload := range []int{0, 64} {
			t.Run(path+"/"+strconv.Itoa(maxPayload), func(t *testing.T) {
				want := csvRows(t, path, maxPayload)
				out := exportFile(t, path, exportConfig{format: "csv", maxPayload: maxPayload, chunkSize: 100})
				got, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got[0], CSVHeader) {
					t.Fatalf("header %q", got[0])
				}
				got = got[1:]
				if len(got) != len(want) {
					t.Fatalf("%d rows, want %d", len(got), len(want))
				}
				for i := range got {
					got[i][1] = csvKey(t, got[i][1])
					if !slices.Equal(got[i], want[i]) {
						t.Errorf("row %d: %q, want %q", i+1, got[i], want[i])
					}
				}
			})
		}
	}
}

// csvRows decodes path and returns the rows CSV should write.
func csvRows(t *testing.T, path string, maxPayload int) [][]string {
	r := fixtures.Open(t, path)
	r.MaxPayload = maxPayload
	var rows [][]string
	for {
		e, err := r.Next()
		if err == io.EOF {
			return rows
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind != rdb.KindKey {
			continue
		}
		row := []string{strconv.Itoa(e.DB), string(e.Key), e.Type.String(), e.ObjectEncoding(), "", "", ""}
		if e.ExpireAt != 0 {
			row[4] = strconv.FormatInt(e.ExpireAt, 10)
		}
		if e.Payload != nil {
			row[5] = strconv.Itoa(len(e.Payload))
		}
		v := e.Value()
		var n, strlen int64
		for v.Next() {
			el := v.Elem()
			strlen += int64(len(el.Value))
			if !el.More {
				n++
			}
		}
		if err := v.Err(); err != nil {
			t.Fatal(err)
		}
		switch e.Type {
		case rdb.TypeString:
			n = strlen
		case rdb.TypeStream:
			n = int64(v.Stream().Length)
		}
		if e.Type != rdb.TypeModule {
			row[6] = strconv.FormatInt(n, 10)
		}
		rows = append(rows, row)
	}
}
