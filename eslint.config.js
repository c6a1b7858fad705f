// Flat config: typescript-eslint's recommended rules on every .ts/.js file of the project.
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "dist/**",
      "node_modules/**",
      "src/.observablehq/**",
      ".observablehq/**",
      "data/**/*.py",
      "data/models/**",
      "out/**",
      "tmp/**",
      ".gpubench/**",
      ".gl/**",
      ".carry/**",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: "module",
      globals: { ...globals.browser, ...globals.node },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
);
