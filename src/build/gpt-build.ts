/**
 * Node only (build-time data loaders): the transformer baseline from data/models/tiny-gpt.{json,safetensors},
 * or its synthetic stand-in while the trained files are absent.
 *
 * API:
 *   readGptFiles() -> {card, bytes}      bytes null for the stand-in
 *   loadBuildGpt() -> {card, model}
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { GptModel } from "../transformer/gpt.js";
import { modelsDir } from "./build-model.js";
import {
  GPT_MODEL_NAME,
  gptCardFromJson,
  gptFromCard,
  syntheticGptCard,
  type GptCard,
} from "../live/gpt-source.js";

export function readGptFiles(name = GPT_MODEL_NAME): { card: GptCard; bytes: Uint8Array | null } {
  const cardFile = path.join(modelsDir, `${name}.json`);
  const weightsFile = path.join(modelsDir, `${name}.safetensors`);
  if (!existsSync(cardFile) || !existsSync(weightsFile)) return { card: syntheticGptCard(), bytes: null };
  return {
    card: gptCardFromJson(JSON.parse(readFileSync(cardFile, "utf-8"))),
    bytes: new Uint8Array(readFileSync(weightsFile)),
  };
}

export function loadBuildGpt(): { card: GptCard; model: GptModel } {
  const { card, bytes } = readGptFiles();
  return { card, model: gptFromCard(card, bytes) };
}
