/**
 * The decorators refuse what could never be a command, at run time too (plain JavaScript
 * has no compiler to stop it): a field, a static or #private method, a class. The
 * `@ts-expect-error` lines show the compiler refuses the same (test/types/ has the rest).
 * Standard decorators are applied by tsx here; the experimentalDecorators convention is
 * called by hand with the arguments TypeScript passes.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application, authenticated, CommandHandler, command, parameter } from "../src/index.js";

const refused = /retopy decorators apply to (public instance )?methods only/;

describe("decorators on what is not a command", () => {
  it("throws for a static method (standard decorators), which mounting would never find", () => {
    assert.throws(() => {
      class Statics extends CommandHandler {
        // @ts-expect-error a static method is not a command
        @parameter() static helper(): string {
          return "never mounted";
        }
      }
      return Statics;
    }, refused);
  });

  it("throws for a #private method and for a field (standard decorators)", () => {
    assert.throws(() => {
      class Private extends CommandHandler {
        // @ts-expect-error a #private method is not a command
        @authenticated #hidden(): void {}
      }
      return Private;
    }, refused);
    assert.throws(() => {
      class Field extends CommandHandler {
        // @ts-expect-error a field is not a command
        @command() value = 1;
      }
      return Field;
    }, refused);
  });

  it("throws for a static method or a field in the experimentalDecorators convention", () => {
    class Target extends CommandHandler {
      static helper(): void {}
      method(): string {
        return "ok";
      }
    }
    const staticDescriptor = Object.getOwnPropertyDescriptor(Target, "helper")!;
    const call = parameter() as unknown as (...args: unknown[]) => void;
    assert.throws(() => call(Target, "helper", staticDescriptor), refused);
    assert.throws(() => call(Target.prototype, "field"), refused);
    // The instance method is accepted, and mounted as a command.
    call(Target.prototype, "method", Object.getOwnPropertyDescriptor(Target.prototype, "method")!);
    assert.deepEqual(
      new Application([Target], { defaultHandlers: false }).commands.filter((c) => !c.builtin).map((c) => c.name),
      ["method"],
    );
  });
});
