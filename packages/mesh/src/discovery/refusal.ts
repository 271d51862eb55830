import { status } from "@grpc/grpc-js";

/**
 * A request the service refuses, carrying the gRPC status code it is answered with
 * (kubespan.md §1.3: validation → INVALID_ARGUMENT, capacity → RESOURCE_EXHAUSTED).
 */
export class Refusal extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
    this.name = "Refusal";
  }
}

export function invalidArgument(message: string): Refusal {
  return new Refusal(status.INVALID_ARGUMENT, message);
}

export function resourceExhausted(message: string): Refusal {
  return new Refusal(status.RESOURCE_EXHAUSTED, message);
}
