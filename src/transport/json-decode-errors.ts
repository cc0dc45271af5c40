// What to tell a caller whose JSON request could not be decoded, without ever
// quoting it: V8's JSON.parse messages quote the text around the error and
// protobuf-es's quote the offending value, and either may be a password. Only
// where it broke is said: a character position, or the field and the JSON
// type it expects. Used by the M3O adapter and by status-corrections.ts for
// the Connect, gRPC and gRPC-Web JSON codecs.
import { type DescField, type DescMessage, ScalarType } from "@bufbuild/protobuf";

export interface DecodeProblem {
  /** The request field at fault (its .proto name), when one is known. */
  field?: string;
  rule: string;
}

type SchemaOf = (typeName: string) => DescMessage | undefined;

const LIBRARY_PREFIX = /^cannot decode (?:message ([\w.]+)|field ([\w.]+)\.(\w+)|\w+ [\w.]+) from JSON: /;
// The beginnings of V8's JSON.parse messages (the rest may quote the input).
const V8_SYNTAX = /^(?:Unexpected|Expected|Bad |Unterminated|Exponent part|No number)/;

/** JSON.parse's SyntaxError, said without the text it quotes. */
export function notValidJson(v8Message: string): DecodeProblem {
  const at = /in JSON at position (\d+)(?: \(line \d+ column \d+\))?$/.exec(v8Message)?.[1];
  return { rule: `request body: not valid JSON${at === undefined ? "" : ` (at character ${at})`}` };
}

/** A protobuf-es JSON decode error (fromJson / fromJsonString), said without the value it quotes. */
export function jsonDecodeProblem(libraryMessage: string, schemaOf: SchemaOf): DecodeProblem {
  const prefix = LIBRARY_PREFIX.exec(libraryMessage);
  if (!prefix) return { rule: "request body: does not match the request's fields" };
  const rest = libraryMessage.slice(prefix[0].length);
  const [, , typeName, fieldName] = prefix;
  if (typeName !== undefined && fieldName !== undefined) {
    const field = schemaOf(typeName)?.fields.find((f) => f.name === fieldName);
    if (!field) return { field: fieldName, rule: "has the wrong JSON type" };
    if (rest.startsWith("set multiple times")) {
      return { field: field.name, rule: `given more than once (as both ${field.name} and ${field.jsonName}?)` };
    }
    return { field: field.name, rule: expectedJson(field) };
  }
  if (V8_SYNTAX.test(rest)) return notValidJson(rest);
  const duplicate = /^duplicate object key "(\w{1,64})"$/.exec(rest);
  if (duplicate) return { field: duplicate[1], rule: "given more than once" };
  if (rest.startsWith("maximum recursion depth")) return { rule: "request body: nested too deeply" };
  // What protobuf-es prints for a body that is JSON but not an object.
  if (/^(?:null|true|false|Array\(\d+\)|"|-?\d|string$)/.test(rest))
    return { rule: "request body: must be a JSON object" };
  return { rule: "request body: does not match the request's fields" };
}

export function expectedJson(field: DescField): string {
  if (field.fieldKind === "list")
    return field.listKind === "scalar" ? "must be an array of strings" : "must be an array";
  if (field.fieldKind === "scalar" && isInt64(field.scalar)) return "must be a whole number (or a string of one)";
  if (field.fieldKind === "scalar" && field.scalar === ScalarType.STRING) return "must be a string";
  return "has the wrong JSON type";
}

export function isInt64(type: ScalarType): boolean {
  return [ScalarType.INT64, ScalarType.UINT64, ScalarType.SINT64, ScalarType.FIXED64, ScalarType.SFIXED64].includes(
    type,
  );
}

const INTEGER_TYPES = new Set<ScalarType>([
  ScalarType.INT32,
  ScalarType.UINT32,
  ScalarType.SINT32,
  ScalarType.FIXED32,
  ScalarType.SFIXED32,
  ScalarType.INT64,
  ScalarType.UINT64,
  ScalarType.SINT64,
  ScalarType.FIXED64,
  ScalarType.SFIXED64,
]);
const DECIMAL = /^-?[0-9]+$/;
/** A string protobuf-es would read as a number although it is not plain decimal digits ("0x10", " 16 "). */
const readAsNumberAnyway = (text: string) => !DECIMAL.test(text) && text.trim() !== "" && Number.isFinite(Number(text));

/**
 * An integer field given as a JSON string must be a plain decimal number:
 * protobuf-es reads such strings with BigInt() or Number(), which also take
 * "0x10", "0o20", "0b1" and surrounding spaces (other strings it refuses
 * itself, with its own message). Said as "field: rule",
 * without the value. Checks the message's own fields and those of the
 * messages in it.
 */
export function nonDecimalInteger(schema: DescMessage, json: unknown, depth = 0): DecodeProblem | undefined {
  if (json === null || typeof json !== "object" || Array.isArray(json) || depth > 8) return undefined;
  const object = json as Record<string, unknown>;
  for (const field of schema.fields) {
    for (const value of [object[field.name], object[field.jsonName]]) {
      if (value === undefined) continue;
      if (field.fieldKind === "scalar" && INTEGER_TYPES.has(field.scalar)) {
        if (typeof value === "string" && readAsNumberAnyway(value)) {
          return { field: field.name, rule: "must be a whole number in decimal digits" };
        }
      } else if (field.fieldKind === "list" && field.listKind === "scalar" && INTEGER_TYPES.has(field.scalar)) {
        if (Array.isArray(value) && value.some((item) => typeof item === "string" && readAsNumberAnyway(item))) {
          return { field: field.name, rule: "must hold whole numbers in decimal digits" };
        }
      } else if (field.fieldKind === "message") {
        const inner = nonDecimalInteger(field.message, value, depth + 1);
        if (inner) return inner;
      }
    }
  }
  return undefined;
}
