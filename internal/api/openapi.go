package api

import (
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// OpenAPI returns the OpenAPI 3 document of the registered routes. It is generated from the
// same declarations the router serves, so the two cannot drift apart.
func (s *Server) OpenAPI() map[string]any {
	paths := map[string]map[string]any{}
	schemas := map[string]any{}
	for _, rt := range s.routes {
		item := paths[rt.Path]
		if item == nil {
			item = map[string]any{}
			paths[rt.Path] = item
		}
		op := map[string]any{
			"summary":       rt.Summary,
			"operationId":   operationID(rt),
			"x-privox-auth": rt.Auth.String(),
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(rt.Path, -1) {
			schema := map[string]any{"type": "integer", "format": "int64"}
			if stringParams[m[1]] {
				schema = map[string]any{"type": "string"}
			}
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": schema})
		}
		if rt.Method == "GET" && rt.Result != nil && strings.HasPrefix(reflect.TypeOf(rt.Result).Name(), "List[") {
			params = append(params,
				map[string]any{"name": "limit", "in": "query", "schema": map[string]any{"type": "integer", "minimum": 1, "maximum": 1000}},
				map[string]any{"name": "after", "in": "query", "description": "next_after of the previous page", "schema": map[string]any{"type": "integer", "format": "int64"}},
				map[string]any{"name": "order", "in": "query", "schema": map[string]any{"type": "string", "enum": []string{"asc", "desc"}}})
			if len(rt.Sorts) > 0 {
				params = append(params,
					map[string]any{"name": "sort", "in": "query", "schema": map[string]any{"type": "string", "enum": append([]string{"id"}, rt.Sorts...)}},
					map[string]any{"name": "after_key", "in": "query", "description": "next_key of the previous page (sorted by another column than id)", "schema": map[string]any{"type": "string"}})
			}
			if rt.Search != "" {
				params = append(params, map[string]any{"name": "q", "in": "query", "description": "substring of the " + rt.Search + ", without regard to case", "schema": map[string]any{"type": "string", "maxLength": 200}})
			}
		}
		if params != nil {
			op["parameters"] = params
		}
		if rt.Body != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": schemaRef(reflect.TypeOf(rt.Body), schemas)}}}
		}
		if rt.Upload != nil {
			content := map[string]any{}
			for _, mt := range rt.Upload {
				content[mt] = map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}
			}
			op["requestBody"] = map[string]any{"required": true, "content": content}
		}
		status := rt.Status
		if status == 0 {
			status = 200
		}
		resp := map[string]any{}
		switch {
		case rt.Result != nil:
			ct := "application/json"
			if rt.Raw {
				ct = "application/octet-stream"
			}
			resp[itoa(status)] = map[string]any{"description": "success", "content": map[string]any{ct: map[string]any{"schema": schemaRef(reflect.TypeOf(rt.Result), schemas)}}}
		default:
			resp["204"] = map[string]any{"description": "success, no content"}
		}
		resp["default"] = map[string]any{"description": "error", "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
		op["responses"] = resp
		if rt.Auth != Public {
			op["security"] = []any{map[string]any{"bearer": []any{}}, map[string]any{"session": []any{}}}
		}
		item[strings.ToLower(rt.Method)] = op
	}
	schemas["Error"] = map[string]any{"type": "object", "properties": map[string]any{"error": map[string]any{"type": "object", "required": []any{"code", "message"}, "properties": map[string]any{
		"code": map[string]any{"type": "string"}, "message": map[string]any{"type": "string"}, "field": map[string]any{"type": "string"}}}}}
	ps := map[string]any{}
	for k, v := range paths {
		ps[k] = v
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info":    map[string]any{"title": "Privox API", "version": "1", "description": "Administration, self-service and privacy API of the Privox phone system."},
		"paths":   ps,
		"components": map[string]any{
			"schemas": schemas,
			"securitySchemes": map[string]any{
				"bearer":  map[string]any{"type": "http", "scheme": "bearer"},
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": SessionCookie},
			},
		},
	}
}

// stringParams are path parameters that are names, not numeric ids.
var stringParams = map[string]bool{"lang": true, "name": true}

func operationID(rt Route) string {
	p := pathParam.ReplaceAllString(strings.TrimPrefix(rt.Path, "/api/v1/"), "by_$1")
	p = strings.NewReplacer("/", "_", ".", "_", "-", "_").Replace(p)
	return strings.ToLower(rt.Method) + "_" + p
}

func itoa(n int) string {
	return strconv.Itoa(n)
}

// schemaRef returns a JSON schema for t, registering named structs as components.
func schemaRef(t reflect.Type, schemas map[string]any) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return map[string]any{"type": "integer"}
	case reflect.Int64, reflect.Uint64, reflect.Uint:
		return map[string]any{"type": "integer", "format": "int64"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "format": "byte"}
		}
		return map[string]any{"type": "array", "items": schemaRef(t.Elem(), schemas)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaRef(t.Elem(), schemas)}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		name := schemaName(t)
		if _, ok := schemas[name]; !ok {
			schemas[name] = map[string]any{} // placeholder against recursion
			props := map[string]any{}
			var required []string
			addFields(t, props, &required, schemas)
			sc := map[string]any{"type": "object", "properties": props}
			if len(required) > 0 {
				sort.Strings(required)
				sc["required"] = required
			}
			schemas[name] = sc
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

func addFields(t reflect.Type, props map[string]any, required *[]string, schemas map[string]any) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			addFields(f.Type, props, required, schemas)
			continue
		}
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = schemaRef(f.Type, schemas)
		if !strings.Contains(opts, "omitempty") && f.Type.Kind() != reflect.Pointer {
			*required = append(*required, name)
		}
	}
}

var nonWord = regexp.MustCompile(`[^A-Za-z0-9]+`)

func schemaName(t reflect.Type) string {
	n := t.Name()
	if n == "" {
		return "Object"
	}
	n = nonWord.ReplaceAllString(n, "_")
	n = strings.Trim(n, "_")
	parts := strings.Split(n, "_")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	out := strings.Join(parts, "")
	// Generic instantiations carry the full package path; keep the last element only.
	out = strings.ReplaceAll(out, "GithubComPrivoxPrivoxInternalStore", "")
	out = strings.ReplaceAll(out, "GithubComPrivoxPrivoxInternalApi", "")
	return out
}
