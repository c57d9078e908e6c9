package exporter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// This file validates JSON against docs/export.schema.json with a small
// validator of the JSON Schema (draft 2020-12) keywords that schema uses;
// a keyword it does not know fails the test rather than being ignored.

const schemaPath = "../docs/export.schema.json"

// A schema is a JSON Schema document, decoded.
type schema struct {
	root map[string]any
	re   map[string]*regexp.Regexp
}

func loadSchema(t testing.TB) *schema {
	t.Helper()
	data, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&root); err != nil {
		t.Fatalf("%s: %v", schemaPath, err)
	}
	return &schema{root: root, re: map[string]*regexp.Regexp{}}
}

// validateJSON decodes one JSON value (numbers kept as json.Number) and
// validates it against the root schema.
func (s *schema) validateJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("more than one JSON value")
	}
	return s.validate(s.root, v, "$")
}

// annotations are keywords without effect on validation.
var annotations = []string{"$schema", "$id", "$defs", "title", "description"}

func (s *schema) validate(sch any, v any, path string) error {
	switch sch := sch.(type) {
	case bool:
		if !sch {
			return fmt.Errorf("%s: not allowed", path)
		}
		return nil
	case map[string]any:
		for _, kw := range slices.Sorted(mapKeys(sch)) {
			if err := s.keyword(sch, kw, v, path); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("schema at %s is %T", path, sch)
}

func mapKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func (s *schema) keyword(sch map[string]any, kw string, v any, path string) error {
	arg := sch[kw]
	switch kw {
	case "$ref":
		ref, _ := arg.(string)
		name, ok := strings.CutPrefix(ref, "#/$defs/")
		defs, _ := s.root["$defs"].(map[string]any)
		target, found := defs[name]
		if !ok || !found {
			return fmt.Errorf("schema: bad $ref %q", ref)
		}
		return s.validate(target, v, path)
	case "type":
		return checkType(arg, v, path)
	case "enum":
		for _, x := range arg.([]any) {
			if reflect.DeepEqual(x, v) {
				return nil
			}
		}
		return fmt.Errorf("%s: %v not in %v", path, v, arg)
	case "const":
		if !reflect.DeepEqual(arg, v) {
			return fmt.Errorf("%s: %v, want %v", path, v, arg)
		}
	case "oneOf":
		var errs []string
		for i, sub := range arg.([]any) {
			if err := s.validate(sub, v, path); err != nil {
				errs = append(errs, fmt.Sprintf("[%d] %v", i, err))
			}
		}
		if n := len(arg.([]any)) - len(errs); n != 1 {
			return fmt.Errorf("%s: matches %d of oneOf: %s", path, n, strings.Join(errs, "; "))
		}
	case "properties":
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		for name, sub := range arg.(map[string]any) {
			if x, ok := obj[name]; ok {
				if err := s.validate(sub, x, path+"."+name); err != nil {
					return err
				}
			}
		}
	case "required":
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		for _, name := range arg.([]any) {
			if _, ok := obj[name.(string)]; !ok {
				return fmt.Errorf("%s: %q missing", path, name)
			}
		}
	case "additionalProperties":
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		props, _ := sch["properties"].(map[string]any)
		for name, x := range obj {
			if _, ok := props[name]; !ok {
				if err := s.validate(arg, x, path+"."+name); err != nil {
					return fmt.Errorf("%s: property %q: %w", path, name, err)
				}
			}
		}
	case "prefixItems", "items", "minItems", "maxItems":
		return s.array(sch, kw, v, path)
	case "pattern":
		str, ok := v.(string)
		if !ok {
			return nil
		}
		re := s.re[arg.(string)]
		if re == nil {
			re = regexp.MustCompile(arg.(string))
			s.re[arg.(string)] = re
		}
		if !re.MatchString(str) {
			return fmt.Errorf("%s: %.50q does not match %s", path, str, re)
		}
	case "minimum", "maximum":
		n, ok := v.(json.Number)
		if !ok {
			return nil
		}
		x, _ := n.Float64()
		lim, _ := arg.(json.Number).Float64()
		if kw == "minimum" && x < lim || kw == "maximum" && x > lim {
			return fmt.Errorf("%s: %v outside %s %v", path, n, kw, lim)
		}
	default:
		if !slices.Contains(annotations, kw) {
			return fmt.Errorf("schema: keyword %q not supported by the test's validator", kw)
		}
	}
	return nil
}

// array checks prefixItems, items, minItems and maxItems.
func (s *schema) array(sch map[string]any, kw string, v any, path string) error {
	a, ok := v.([]any)
	if !ok {
		return nil
	}
	prefix, _ := sch["prefixItems"].([]any)
	switch kw {
	case "prefixItems":
		for i, sub := range prefix {
			if i < len(a) {
				if err := s.validate(sub, a[i], fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
	case "items":
		for i := len(prefix); i < len(a); i++ {
			if err := s.validate(sch["items"], a[i], fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case "minItems", "maxItems":
		n, _ := sch[kw].(json.Number).Int64()
		if kw == "minItems" && int64(len(a)) < n || kw == "maxItems" && int64(len(a)) > n {
			return fmt.Errorf("%s: %d items, %s %d", path, len(a), kw, n)
		}
	}
	return nil
}

func checkType(arg, v any, path string) error {
	var types []any
	switch a := arg.(type) {
	case string:
		types = []any{a}
	case []any:
		types = a
	}
	for _, t := range types {
		if isType(t.(string), v) {
			return nil
		}
	}
	return fmt.Errorf("%s: %T is not %v", path, v, arg)
}

func isType(t string, v any) bool {
	switch t {
	case "null":
		return v == nil
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		n, ok := v.(json.Number)
		return ok && !strings.ContainsAny(string(n), ".eE")
	case "array":
		_, ok := v.([]any)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	}
	return false
}

// TestSchemaRejects checks that the schema and the validator refuse
// records that break the format, so that the golden tests' validation
// means something.
func TestSchemaRejects(t *testing.T) {
	s := loadSchema(t)
	good := []string{
		`{"db":0,"key":"k","type":"string","encoding":"embstr","expire_at":null,"value":"v"}`,
		`{"db":0,"key":{"base64":"/w=="},"type":"string","encoding":"raw","expire_at":1,"value":{"base64":"AAEC"}}`,
		`{"db":1,"key":"z","type":"zset","encoding":"skiplist","expire_at":null,"value":[["a",1.5],["b","inf"],["c",-0],["d",1e+308]]}`,
		`{"db":1,"key":"h","type":"hash","encoding":"listpackex","expire_at":null,"value":[["f","v"],["g","w",1767225600000]]}`,
		`{"db":0,"key":"s","type":"stream","encoding":"stream","expire_at":null,"value":{"entries":[["1-0",["f","v"]]],"length":1,"last_id":"1-0","first_id":null,"max_deleted_id":null,"entries_added":null,"groups":[{"name":"g","last_id":"1-0","entries_read":null,"pending":[["1-0","c",5,1],["1-1",null,5,1]],"consumers":[{"name":"c","seen_time":5,"active_time":null}]}]}}`,
		`{"db":0,"key":"m","type":"module","encoding":"module","expire_at":null,"value":{"module":"ReJSON-RL","version":3,"payload":{"base64":"AA=="}}}`,
		`{"kind":"aux","name":"redis-ver","value":"7.0.15"}`,
		`{"kind":"function","library":"lib","code":"#!lua name=lib\n"}`,
		`{"kind":"module_aux","module":"hellotype","version":0,"when":2,"payload":{"base64":""}}`,
	}
	for _, g := range good {
		if err := s.validateJSON([]byte(g)); err != nil {
			t.Errorf("%s: %v", g, err)
		}
	}
	bad := []struct{ name, rec string }{
		{"missing expire_at", `{"db":0,"key":"k","type":"string","encoding":"embstr","value":"v"}`},
		{"extra field", `{"db":0,"key":"k","type":"string","encoding":"embstr","expire_at":null,"value":"v","x":1}`},
		{"expire_at 0", `{"db":0,"key":"k","type":"string","encoding":"embstr","expire_at":0,"value":"v"}`},
		{"negative db", `{"db":-1,"key":"k","type":"string","encoding":"embstr","expire_at":null,"value":"v"}`},
		{"fractional db", `{"db":1.5,"key":"k","type":"string","encoding":"embstr","expire_at":null,"value":"v"}`},
		{"string as number", `{"db":0,"key":"k","type":"string","encoding":"int","expire_at":null,"value":5}`},
		{"bad base64", `{"db":0,"key":{"base64":"A"},"type":"string","encoding":"raw","expire_at":null,"value":"v"}`},
		{"base64 extra", `{"db":0,"key":{"base64":"AA==","x":1},"type":"string","encoding":"raw","expire_at":null,"value":"v"}`},
		{"list of numbers", `{"db":0,"key":"l","type":"list","encoding":"quicklist","expire_at":null,"value":[1]}`},
		{"list encoding of set", `{"db":0,"key":"l","type":"set","encoding":"quicklist","expire_at":null,"value":[]}`},
		{"score as text", `{"db":0,"key":"z","type":"zset","encoding":"listpack","expire_at":null,"value":[["a","1.5"]]}`},
		{"zset triple", `{"db":0,"key":"z","type":"zset","encoding":"listpack","expire_at":null,"value":[["a",1,2]]}`},
		{"hash single", `{"db":0,"key":"h","type":"hash","encoding":"listpack","expire_at":null,"value":[["f"]]}`},
		{"stream missing groups", `{"db":0,"key":"s","type":"stream","encoding":"stream","expire_at":null,"value":{"entries":[],"length":0,"last_id":"0-0","first_id":null,"max_deleted_id":null,"entries_added":null}}`},
		{"stream bad id", `{"db":0,"key":"s","type":"stream","encoding":"stream","expire_at":null,"value":{"entries":[["1",[]]],"length":0,"last_id":"0-0","first_id":null,"max_deleted_id":null,"entries_added":null,"groups":[]}}`},
		{"module name", `{"db":0,"key":"m","type":"module","encoding":"module","expire_at":null,"value":{"module":"x","version":3,"payload":{"base64":""}}}`},
		{"unknown kind", `{"kind":"note","name":"a","value":"b"}`},
		{"aux without value", `{"kind":"aux","name":"a"}`},
	}
	for _, b := range bad {
		if err := s.validateJSON([]byte(b.rec)); err == nil {
			t.Errorf("%s: accepted %s", b.name, b.rec)
		}
	}
}
