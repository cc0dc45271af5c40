// Unary RPCs run through their interceptors and handler directly, without
// the library's universal handler: the Connect path (connect-unary.ts) and the
// M3O paths (m3o.ts) both call them this way. It runs the interceptors the
// router was given for the service, in their order, and the handler with a
// HandlerContext like the library's; what differs is only what it does not
// make: no rebuilt request, no linked AbortControllers, no abort (and so no
// DOMException with its stack trace) after every call. A call's signal is
// made only if an interceptor or handler reads it.
import { create, type DescMessage, type DescMethodUnary, type DescService, isMessage } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  type ConnectRouterOptions,
  type ContextValues,
  createServiceImplSpec,
  type HandlerContext,
  type Interceptor,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import {
  createLinkedAbortController,
  createMethodSerializationLookup,
  type MethodSerializationLookup,
  validateUniversalHandlerOptions,
} from "@connectrpc/connect/protocol";

type UnaryImpl = (message: unknown, context: HandlerContext) => unknown;
type HandlerOptions = ReturnType<typeof validateUniversalHandlerOptions>;
type Message = ReturnType<typeof create>;

/** One unary RPC as the library's router registered it. */
export interface UnaryRoute {
  service: DescService;
  method: DescMethodUnary;
  impl: UnaryImpl;
  interceptors: Interceptor[];
  serialization: MethodSerializationLookup<DescMessage, DescMessage>;
  options: HandlerOptions;
}

/**
 * A router that registers on `router` as usual and also records each unary
 * RPC with the options the library would serve it with (the router's,
 * overridden by the service's).
 */
export function recordingUnaryRoutes(
  router: ConnectRouter,
  routerOptions: ConnectRouterOptions,
  into: Map<string, UnaryRoute>,
): ConnectRouter {
  const recorder: ConnectRouter = {
    get handlers() {
      return router.handlers;
    },
    service(desc, implementation, serviceOptions) {
      router.service(desc, implementation, serviceOptions);
      const options = validateUniversalHandlerOptions({ ...routerOptions, ...serviceOptions });
      const spec = createServiceImplSpec(desc, implementation);
      for (const method of desc.methods) {
        if (method.methodKind !== "unary") continue;
        into.set(`/${desc.typeName}/${method.name}`, {
          service: desc,
          method: method as DescMethodUnary,
          impl: spec.methods[method.localName]!.impl as UnaryImpl,
          interceptors: options.interceptors,
          serialization: createMethodSerializationLookup(method, options.binaryOptions, options.jsonOptions, options),
          options,
        });
      }
      return recorder;
    },
    rpc(method, impl, methodOptions) {
      // Not used by this service; registered RPCs of this kind stay on the library's path.
      router.rpc(method, impl, methodOptions);
      return recorder;
    },
  };
  return recorder;
}

/** What a call brings besides its message. */
export interface UnaryCallInit {
  url: string;
  header: Headers;
  contextValues: ContextValues;
  signal: LazySignal;
  /** Filled by the interceptors and the handler: what the answer's headers and trailers say. */
  responseHeader: Headers;
  responseTrailer: Headers;
}

/** The call's output message; throws what an interceptor or the handler threw. */
export async function invokeUnary(route: UnaryRoute, input: unknown, init: UnaryCallInit): Promise<Message> {
  const { responseHeader, responseTrailer, signal } = init;
  const context: Omit<HandlerContext, "signal"> = {
    method: route.method,
    service: route.service,
    timeoutMs: () => undefined,
    requestMethod: "POST",
    requestHeader: init.header,
    responseHeader,
    responseTrailer,
    protocolName: "connect",
    values: init.contextValues,
    url: init.url,
  };
  const handle = async (req: UnaryRequest): Promise<UnaryResponse> => {
    const output = await route.impl(req.message, {
      ...context,
      service: req.service,
      requestHeader: req.header,
      values: req.contextValues,
      get signal() {
        return req.signal;
      },
    });
    return {
      stream: false,
      service: route.service,
      method: route.method,
      header: responseHeader,
      trailer: responseTrailer,
      message: normalize(route.method.output, output),
    };
  };
  let next = handle;
  for (let i = route.interceptors.length - 1; i >= 0; i--) {
    next = route.interceptors[i]!(next as never) as unknown as typeof handle;
  }
  const response = await next({
    stream: false,
    service: route.service,
    method: route.method,
    requestMethod: "POST",
    url: init.url,
    header: init.header,
    contextValues: init.contextValues,
    message: input as never,
    get signal() {
      return signal.signal;
    },
  });
  copyInto(response.header, responseHeader);
  copyInto(response.trailer, responseTrailer);
  return response.message;
}

export interface LazySignal {
  readonly signal: AbortSignal;
  abortWith(reason: unknown): void;
}

/**
 * The call's AbortSignal, made on first use: aborted when the client goes
 * away before the answer is sent, when the server shuts down, or when the
 * call fails, as the library's would be.
 */
export function lazySignal(
  res: { once(event: "close", listener: () => void): unknown; readonly writableEnded: boolean },
  shutdown: AbortSignal | undefined,
): LazySignal {
  let controller: AbortController | undefined;
  const make = () => {
    const made = createLinkedAbortController(shutdown);
    res.once("close", () => {
      if (!res.writableEnded) made.abort(new ConnectError("the client went away", Code.Canceled));
    });
    return made;
  };
  return {
    get signal() {
      controller ??= make();
      return controller.signal;
    },
    abortWith(reason) {
      controller?.abort(reason);
    },
  };
}

function normalize(schema: DescMessage, output: unknown): Message {
  return isMessage(output, schema) ? output : create(schema, output as never);
}

function copyInto(from: Headers, to: Headers): void {
  if (from === to) return;
  for (const key of [...to.keys()]) to.delete(key);
  for (const [key, value] of from) to.set(key, value);
}
