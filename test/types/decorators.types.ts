/**
 * Compile-time tests of the decorators' types, checked in both decorator modes: by
 * `npm run typecheck` (standard TC39 decorators) and by tsconfig.experimental-decorators.json
 * (TypeScript's `experimentalDecorators`), which test/typecheck.test.ts runs. Every
 * `@ts-expect-error` must meet an error in both modes.
 */
import { authenticated, command, CommandHandler, parameter } from "../../src/index.js";

export class Accepted extends CommandHandler {
  @parameter("key")
  @parameter({ name: "n", type: "int" })
  @command({ help: "sync, returns a value" })
  sync(): number {
    return this.getArgument<number>("n");
  }

  @parameter()
  @authenticated
  async asynchronous(): Promise<void> {}

  @authenticated
  bare(): string {
    return "ok";
  }

  // A method with parameters of its own is still a method.
  @command()
  withOptional(extra?: string): string {
    return extra ?? "";
  }
}

export class Refused extends CommandHandler {
  // @ts-expect-error a field is not a command
  @parameter("key") field = 1;

  // @ts-expect-error nor is an arrow function in a field
  @command() arrow = (): string => "no";

  // @ts-expect-error a getter is not a command
  @authenticated get value(): number {
    return 1;
  }

  // @ts-expect-error static methods are never mounted
  @parameter() static helper(): void {}

  // @ts-expect-error an accessor is not a command
  @command() accessor count = 0;
}

// @ts-expect-error a decorator on a class
@authenticated
export class OnClass extends CommandHandler {}

// @ts-expect-error a decorator on a class, with options
@parameter("key")
export class OnClass2 extends CommandHandler {}

export class NotAHandler {
  // @ts-expect-error only a CommandHandler's methods can be commands
  @parameter() method(): void {}
}

// @ts-expect-error the options are checked: `type` must be a known type or a converter
export const badOption = parameter({ name: "n", type: "integer" });
