/**
 * The few WebGPU types and constants the fused step uses (TypeScript's DOM library has no WebGPU types, and the
 * project takes no dependency for them). Structural: a browser's GPUDevice and Dawn for Node's both fit.
 */
export interface GBuffer {
  readonly size: number;
  mapAsync(mode: number, offset?: number, size?: number): Promise<void>;
  getMappedRange(offset?: number, size?: number): ArrayBuffer;
  unmap(): void;
  destroy(): void;
}

export interface GBindGroupLayout {
  readonly __brand?: "GPUBindGroupLayout";
}
export interface GBindGroup {
  readonly __brand?: "GPUBindGroup";
}
export interface GComputePipeline {
  getBindGroupLayout(index: number): GBindGroupLayout;
}
export interface GShaderModule {
  getCompilationInfo?(): Promise<{ messages: readonly { type: string; message: string; lineNum: number }[] }>;
}

export interface GComputePass {
  setPipeline(p: GComputePipeline): void;
  setBindGroup(index: number, g: GBindGroup): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
  end(): void;
}
export interface GCommandEncoder {
  beginComputePass(d?: object): GComputePass;
  copyBufferToBuffer(src: GBuffer, srcOffset: number, dst: GBuffer, dstOffset: number, size: number): void;
  finish(): GCommandBuffer;
}
export interface GCommandBuffer {
  readonly __brand?: "GPUCommandBuffer";
}

export interface GQueue {
  writeBuffer(buffer: GBuffer, offset: number, data: ArrayBufferView | ArrayBuffer): void;
  submit(buffers: GCommandBuffer[]): void;
  onSubmittedWorkDone(): Promise<void>;
}

export interface GDevice {
  readonly queue: GQueue;
  readonly limits: Record<string, number>;
  readonly lost: Promise<{ reason: string; message: string }>;
  createBuffer(d: { size: number; usage: number; mappedAtCreation?: boolean; label?: string }): GBuffer;
  createShaderModule(d: { code: string; label?: string }): GShaderModule;
  createComputePipeline(d: {
    layout: "auto";
    compute: { module: GShaderModule; entryPoint: string };
    label?: string;
  }): GComputePipeline;
  createBindGroup(d: {
    layout: GBindGroupLayout;
    entries: { binding: number; resource: { buffer: GBuffer; offset?: number; size?: number } }[];
    label?: string;
  }): GBindGroup;
  createCommandEncoder(d?: object): GCommandEncoder;
  pushErrorScope(filter: "validation" | "out-of-memory" | "internal"): void;
  popErrorScope(): Promise<{ message: string } | null>;
  destroy(): void;
}

export interface GAdapter {
  readonly limits: Record<string, number>;
  readonly features: { has(name: string): boolean };
  readonly info?: { vendor: string; architecture: string; description?: string; isFallbackAdapter?: boolean };
  readonly isFallbackAdapter?: boolean;
  requestDevice(d?: {
    requiredLimits?: Record<string, number>;
    requiredFeatures?: string[];
  }): Promise<GDevice>;
}

/** GPUBufferUsage */
export const USAGE = {
  MAP_READ: 0x1,
  COPY_SRC: 0x4,
  COPY_DST: 0x8,
  UNIFORM: 0x40,
  STORAGE: 0x80,
} as const;
/** GPUMapMode.READ */
export const MAP_READ = 0x1;
