// Every label, message and error headline in both languages. The language comes from the
// browser (navigator.languages) unless the user picked one (kept in localStorage).
"use strict";

const MESSAGES = {
  en: {
    "app.title": "LoRA Studio",
    "nav.datasets": "Datasets", "nav.train": "Train", "nav.adapters": "Adapters", "nav.chat": "Chat", "nav.doctor": "Doctor",
    "lang.switch": "中文",
    "common.loading": "Loading…", "common.none": "none", "common.close": "Close", "common.yes": "yes", "common.no": "no",
    "common.error": "Error", "common.fix": "Fix", "common.details": "Details", "common.record": "record", "common.field": "field",
    "common.message": "message", "common.refresh": "Refresh", "common.name": "Name", "common.status": "Status",
    "common.actions": "Actions", "common.created": "Created",
    // datasets
    "ds.upload": "Upload a dataset", "ds.upload.hint": "Alpaca, ShareGPT or OpenAI messages; .json or .jsonl; up to {mb} MB.",
    "ds.upload.button": "Upload", "ds.uploading": "Uploading and checking…", "ds.uploaded": "Uploaded {name}: {n} samples ({format}).",
    "ds.renamed": "A different file already had that name; saved as {name}.",
    "ds.list": "Your datasets", "ds.examples": "Bundled examples", "ds.select": "Choose a dataset to see it.",
    "ds.format": "Format", "ds.samples": "Samples", "ds.turns": "Assistant turns", "ds.multiturn": "Multi-turn",
    "ds.categories": "Categories", "ds.duplicates": "Exact duplicates", "ds.short": "Very short answers",
    "ds.lengths": "Lengths", "ds.length": "length", "ds.chars.prompt": "prompt chars", "ds.chars.response": "answer chars",
    "ds.tokens.prompt": "prompt tokens", "ds.tokens.response": "answer tokens", "ds.tokens.total": "total tokens",
    "ds.tokens.sum": "Tokens in all samples", "ds.tokens.model": "Token counts with {model}",
    "ds.truncated": "Cut at max length", "ds.zero": "Nothing to train on", "ds.preview": "Preview (first {n})",
    "ds.col.index": "#", "ds.col.category": "category", "ds.col.prompt": "prompt", "ds.col.response": "answer",
    "ds.findings": "Plan findings with default settings", "ds.use": "Train on this dataset", "ds.delete": "Delete",
    "ds.delete.confirm": "Delete dataset {name}?", "ds.problems": "{total} problem(s) in the file; nothing was saved.",
    // datasets: expand (static/expand.js)
    "ds.expand": "Expand", "ex.title": "Expand",
    "ex.intro": "Grow the dataset with reworded questions and answer variants, filtered, plus held-out probes the samples stay away from. Review them, keep the good ones and save them as a new dataset; this one stays as it is.",
    "ex.target": "Target samples (seeds included)", "ex.holdout": "Held-out probes", "ex.seed": "Seed",
    "ex.method": "Method", "ex.method.templates": "Templates (offline)", "ex.method.model": "Model (OpenAI-compatible server)",
    "ex.answers": "Answers", "ex.answers.keep": "Each question keeps its seed's answer", "ex.answers.rotate": "Also rotate answers within a category",
    "ex.markers": "Persona markers (comma-separated; answers without one are dropped)", "ex.markers.ph": "e.g. 俺老孙,嘿嘿",
    "ex.endpoint": "Server URL", "ex.model": "Model name", "ex.preview": "Preview", "ex.running": "Generating…",
    "ex.samples": "samples before → after", "ex.probes": "held-out probes", "ex.tried": "candidates tried",
    "ex.rejected": "rejected by the filters", "ex.kept": "accepted", "ex.keeping": "Keeping {k} of {n}",
    "ex.cats": "Categories", "ex.col.before": "before", "ex.col.after": "after", "ex.col.accepted": "accepted",
    "ex.col.probes": "probes", "ex.filters": "Filters", "ex.col.filter": "filter", "ex.col.rejected": "rejected",
    "ex.filter.empty": "empty", "ex.filter.too_long": "answer too long", "ex.filter.wrong_language": "wrong language",
    "ex.filter.no_marker": "no persona marker", "ex.filter.exact_duplicate": "exact duplicate",
    "ex.filter.probe_leak": "close to a held-out probe", "ex.filter.near_duplicate": "near duplicate",
    "ex.acceptAll": "Accept all", "ex.discardAll": "Discard all", "ex.acceptCat": "accept category", "ex.discardCat": "discard category",
    "ex.col.keep": "keep", "ex.col.origin": "source", "ex.origin.seed": "seed", "ex.origin.template": "reworded", "ex.origin.model": "model",
    "ex.probes.list": "Held-out probes ({n}), saved beside the dataset", "ex.col.expect": "facts a right answer names",
    "ex.saveas": "Save as", "ex.save": "Save as a new dataset", "ex.saving": "Saving…",
    "ex.saved": "Saved {name}: {n} samples.", "ex.saved.probes": "Probes saved as {probes}, chosen on the train page.",
    "ex.none": "Nothing accepted: keep at least one sample.",
    // train
    "tr.title": "Train a LoRA adapter", "tr.name": "Run name", "tr.name.ph": "automatic (run-date-time)",
    "tr.model": "Base model", "tr.model.hint": "embedded default, a cached model, a local folder or a hub id (org/name)",
    "tr.data": "Dataset", "tr.probes": "Held-out probes", "tr.probes.none": "(none)",
    "tr.epochs": "Epochs", "tr.batch": "Batch size", "tr.accum": "Gradient accumulation", "tr.lr": "Learning rate",
    "tr.r": "LoRA rank", "tr.alpha": "LoRA alpha", "tr.maxlen": "Max length (tokens)", "tr.targets": "Target modules",
    "tr.targets.ph": "default: attention projections", "tr.evalsplit": "Eval split", "tr.doctor": "Run the doctor afterwards",
    "tr.force": "Train even with error findings", "tr.start": "Start training", "tr.plan": "Plan",
    "tr.plan.spe": "Steps per epoch", "tr.plan.total": "Total steps", "tr.plan.eff": "Effective batch",
    "tr.plan.train": "Training samples", "tr.plan.tokens": "Tokens per epoch", "tr.plan.cov": "Label coverage",
    "tr.plan.params": "Trainable parameters", "tr.plan.time": "Estimated time", "tr.plan.device": "Device",
    "tr.plan.updating": "updating…", "tr.plan.ok": "No findings: the plan looks healthy.",
    "tr.job": "Current job", "tr.jobs": "Jobs", "tr.cancel": "Cancel", "tr.cancel.again": "Kill now",
    "tr.resume": "Resume", "tr.view": "View", "tr.nojob": "No job yet. Fill in the form and start.",
    "tr.step": "step {step} / {total}", "tr.log": "Log (last lines)",
    "chart.loss": "Loss", "chart.eval": "Eval loss", "chart.lr": "Learning rate", "chart.tps": "Tokens / s",
    "status.queued": "queued", "status.running": "running", "status.done": "done", "status.failed": "failed",
    "status.cancelled": "cancelled", "status.doctor": "training done; doctor running",
    "status.stopping": "stopping after this step…",
    // adapters
    "ad.title": "Adapters", "ad.scan": "Scan runs folder", "ad.empty": "No finished adapters yet. Train one first.",
    "ad.base": "Base model", "ad.config": "r / alpha / epochs", "ad.steps": "Steps", "ad.loss": "Final loss",
    "ad.eval": "Eval loss", "ad.verdict": "Doctor", "ad.activate": "Activate", "ad.active": "active",
    "ad.rename": "Rename", "ad.delete": "Delete", "ad.download": "Zip", "ad.merge": "Merge",
    "ad.doctor": "Report", "ad.usebase": "Use base model (no adapter)", "ad.rename.prompt": "New name for {name}:",
    "ad.delete.confirm": "Delete adapter {name} and its whole run folder? This cannot be undone.",
    "ad.merged": "Merged into {path}", "ad.merging": "Merging {name} into its base model…",
    "ad.activated": "{name} is active.", "ad.engine": "Engine: {model} · active: {active}",
    // chat
    "ch.title": "Chat", "ch.adapter": "Adapter", "ch.active": "(active: {name})", "ch.base": "base model",
    "ch.system": "System prompt", "ch.system.ph": "optional", "ch.compare": "Base and adapter side by side",
    "ch.maxnew": "Max new tokens", "ch.temp": "Temperature", "ch.topp": "Top-p", "ch.seed": "Seed",
    "ch.prompt.ph": "Type a message… (Ctrl+Enter to send)", "ch.send": "Send", "ch.clear": "Clear",
    "ch.probes": "Run held-out probes", "ch.probes.running": "Probe {i} / {n}…", "ch.probes.col.prompt": "probe",
    "ch.probes.col.base": "base", "ch.probes.col.adapter": "adapter", "ch.probes.summary": "Fact hits: base {b}, adapter {a} of {n}; persona markers: base {mb}, adapter {ma}",
    "ch.you": "You", "ch.empty": "(empty answer: only whitespace or an end token)", "ch.col.base": "Base", "ch.col.adapter": "Adapter: {name}",
    // doctor
    "dr.title": "Doctor", "dr.run": "Run", "dr.run.button": "Run the doctor", "dr.none": "No doctor report for this run yet.",
    "dr.verdict": "Verdict", "dr.findings": "Findings", "dr.evidence": "Evidence", "dr.effect": "Effect numbers",
    "dr.generations": "Base versus adapter", "dr.running": "The doctor is running…", "dr.raw": "Full report (JSON)",
    "verdict.learned": "learned", "verdict.not_learned": "not learned", "verdict.partial": "partly learned",
    "verdict.inconclusive": "inconclusive",
    // errors by code
    "err.not_found": "Not found", "err.method_not_allowed": "Method not allowed", "err.invalid_request": "Invalid request",
    "err.data_error": "The dataset has problems", "err.config_error": "Invalid training options",
    "err.model_error": "Model problem", "err.run_error": "Run problem", "err.plan_refused": "Training refused by the preflight check",
    "err.conflict": "Name already taken", "err.too_large": "File too large", "err.unauthorized": "Access token needed",
    "err.internal_error": "Internal server error", "err.busy": "Busy", "err.no_probes": "No held-out probes",
    "err.read_only": "Read-only", "err.confirm_mismatch": "Confirmation did not match", "err.run_incomplete": "Run not finished",
    "err.generation_failed": "Generation failed", "err.studio_error": "Problem", "err.network": "Cannot reach the server",
    "err.endpoint_failed": "The model server failed", "err.probe_leak": "A kept sample is close to a held-out probe",
  },
  "zh-CN": {
    "app.title": "LoRA 工作室",
    "nav.datasets": "数据集", "nav.train": "训练", "nav.adapters": "适配器", "nav.chat": "对话", "nav.doctor": "诊断",
    "lang.switch": "English",
    "common.loading": "加载中…", "common.none": "无", "common.close": "关闭", "common.yes": "是", "common.no": "否",
    "common.error": "错误", "common.fix": "解决办法", "common.details": "详情", "common.record": "记录", "common.field": "字段",
    "common.message": "说明", "common.refresh": "刷新", "common.name": "名称", "common.status": "状态",
    "common.actions": "操作", "common.created": "创建时间",
    "ds.upload": "上传数据集", "ds.upload.hint": "支持 Alpaca、ShareGPT 或 OpenAI messages 格式；.json 或 .jsonl；最大 {mb} MB。",
    "ds.upload.button": "上传", "ds.uploading": "正在上传并检查…", "ds.uploaded": "已上传 {name}：{n} 条样本（{format}）。",
    "ds.renamed": "已有同名但内容不同的文件，已另存为 {name}。",
    "ds.list": "我的数据集", "ds.examples": "内置示例", "ds.select": "选择一个数据集查看详情。",
    "ds.format": "格式", "ds.samples": "样本数", "ds.turns": "助手回复数", "ds.multiturn": "多轮对话",
    "ds.categories": "类别", "ds.duplicates": "完全重复", "ds.short": "过短的回答",
    "ds.lengths": "长度", "ds.length": "长度", "ds.chars.prompt": "提问字符数", "ds.chars.response": "回答字符数",
    "ds.tokens.prompt": "提问 token 数", "ds.tokens.response": "回答 token 数", "ds.tokens.total": "总 token 数",
    "ds.tokens.sum": "全部样本的 token 数", "ds.tokens.model": "按 {model} 的分词器统计",
    "ds.truncated": "超出最大长度被截断", "ds.zero": "没有可训练的内容", "ds.preview": "预览（前 {n} 条）",
    "ds.col.index": "序号", "ds.col.category": "类别", "ds.col.prompt": "提问", "ds.col.response": "回答",
    "ds.findings": "默认设置下的训练计划检查", "ds.use": "用这个数据集训练", "ds.delete": "删除",
    "ds.delete.confirm": "删除数据集 {name}？", "ds.problems": "文件中有 {total} 处问题；未保存。",
    // 数据集：扩充（static/expand.js）
    "ds.expand": "扩充", "ex.title": "扩充",
    "ex.intro": "用改写的问题和答案变体扩充数据集（经过过滤），并留出样本不会靠近的测试问题。逐条检查，保留好的，另存为新数据集；原数据集保持不变。",
    "ex.target": "目标样本数（含原始样本）", "ex.holdout": "留出测试问题数", "ex.seed": "随机种子",
    "ex.method": "方法", "ex.method.templates": "模板改写（离线）", "ex.method.model": "模型生成（兼容 OpenAI 接口的服务）",
    "ex.answers": "答案", "ex.answers.keep": "每个问题沿用原样本的答案", "ex.answers.rotate": "同一分类内轮换使用答案",
    "ex.markers": "人设标记词（逗号分隔；不含任何标记词的答案会被过滤）", "ex.markers.ph": "例如 俺老孙,嘿嘿",
    "ex.endpoint": "服务地址", "ex.model": "模型名", "ex.preview": "预览", "ex.running": "生成中…",
    "ex.samples": "样本数：扩充前 → 扩充后", "ex.probes": "留出测试问题", "ex.tried": "尝试的候选",
    "ex.rejected": "被过滤掉", "ex.kept": "已接受", "ex.keeping": "保留 {k} / {n} 条",
    "ex.cats": "分类", "ex.col.before": "扩充前", "ex.col.after": "扩充后", "ex.col.accepted": "已接受",
    "ex.col.probes": "测试问题", "ex.filters": "过滤器", "ex.col.filter": "过滤器", "ex.col.rejected": "过滤掉",
    "ex.filter.empty": "内容为空", "ex.filter.too_long": "答案过长", "ex.filter.wrong_language": "语言不符",
    "ex.filter.no_marker": "缺少人设标记词", "ex.filter.exact_duplicate": "完全重复",
    "ex.filter.probe_leak": "与留出测试问题过近", "ex.filter.near_duplicate": "近似重复",
    "ex.acceptAll": "全部接受", "ex.discardAll": "全部舍弃", "ex.acceptCat": "接受本类", "ex.discardCat": "舍弃本类",
    "ex.col.keep": "保留", "ex.col.origin": "来源", "ex.origin.seed": "原始", "ex.origin.template": "模板改写", "ex.origin.model": "模型生成",
    "ex.probes.list": "留出测试问题（{n} 条），与数据集一起保存", "ex.col.expect": "正确答案应提到的事实",
    "ex.saveas": "另存为", "ex.save": "保存为新数据集", "ex.saving": "保存中…",
    "ex.saved": "已保存 {name}：{n} 条样本。", "ex.saved.probes": "测试问题已保存为 {probes}，并已在训练页选中。",
    "ex.none": "没有接受任何样本：请至少保留一条。",
    "tr.title": "训练 LoRA 适配器", "tr.name": "运行名称", "tr.name.ph": "自动（run-日期-时间）",
    "tr.model": "基础模型", "tr.model.hint": "内置默认模型、已缓存的模型、本地文件夹或 Hub 模型 ID（组织/名称）",
    "tr.data": "数据集", "tr.probes": "留出测试问题（probes）", "tr.probes.none": "（无）",
    "tr.epochs": "训练轮数", "tr.batch": "批大小", "tr.accum": "梯度累积", "tr.lr": "学习率",
    "tr.r": "LoRA 秩", "tr.alpha": "LoRA alpha", "tr.maxlen": "最大长度（token）", "tr.targets": "目标模块",
    "tr.targets.ph": "默认：注意力投影层", "tr.evalsplit": "验证集比例", "tr.doctor": "训练后运行诊断",
    "tr.force": "即使有错误级检查结果也训练", "tr.start": "开始训练", "tr.plan": "训练计划",
    "tr.plan.spe": "每轮步数", "tr.plan.total": "总步数", "tr.plan.eff": "有效批大小",
    "tr.plan.train": "训练样本", "tr.plan.tokens": "每轮 token 数", "tr.plan.cov": "标签覆盖率",
    "tr.plan.params": "可训练参数", "tr.plan.time": "预计时间", "tr.plan.device": "设备",
    "tr.plan.updating": "更新中…", "tr.plan.ok": "没有发现问题：计划看起来没问题。",
    "tr.job": "当前任务", "tr.jobs": "任务列表", "tr.cancel": "取消", "tr.cancel.again": "立即终止",
    "tr.resume": "继续训练", "tr.view": "查看", "tr.nojob": "还没有任务。填写表单后开始训练。",
    "tr.step": "第 {step} / {total} 步", "tr.log": "日志（最后几行）",
    "chart.loss": "损失", "chart.eval": "验证损失", "chart.lr": "学习率", "chart.tps": "每秒 token 数",
    "status.queued": "排队中", "status.running": "训练中", "status.done": "已完成", "status.failed": "失败",
    "status.cancelled": "已取消", "status.doctor": "训练完成，正在诊断", "status.stopping": "本步结束后停止…",
    "ad.title": "适配器", "ad.scan": "扫描 LoRA 模型", "ad.empty": "还没有训练完成的适配器。先去训练一个。",
    "ad.base": "基础模型", "ad.config": "秩 / alpha / 轮数", "ad.steps": "步数", "ad.loss": "最终损失",
    "ad.eval": "验证损失", "ad.verdict": "诊断结论", "ad.activate": "激活", "ad.active": "已激活",
    "ad.rename": "重命名", "ad.delete": "删除", "ad.download": "下载 zip", "ad.merge": "合并",
    "ad.doctor": "报告", "ad.usebase": "使用基础模型（不加适配器）", "ad.rename.prompt": "{name} 的新名称：",
    "ad.delete.confirm": "删除适配器 {name} 及其整个运行文件夹？此操作无法撤销。",
    "ad.merged": "已合并到 {path}", "ad.merging": "正在把 {name} 合并进基础模型…",
    "ad.activated": "{name} 已激活。", "ad.engine": "引擎：{model} · 当前：{active}",
    "ch.title": "对话测试", "ch.adapter": "适配器", "ch.active": "（当前激活：{name}）", "ch.base": "基础模型",
    "ch.system": "系统提示词", "ch.system.ph": "可选", "ch.compare": "基础模型与适配器并排对比",
    "ch.maxnew": "最多生成 token 数", "ch.temp": "温度", "ch.topp": "Top-p", "ch.seed": "随机种子",
    "ch.prompt.ph": "输入消息…（Ctrl+Enter 发送）", "ch.send": "发送", "ch.clear": "清空",
    "ch.probes": "运行留出测试问题", "ch.probes.running": "第 {i} / {n} 个测试问题…", "ch.probes.col.prompt": "测试问题",
    "ch.probes.col.base": "基础模型", "ch.probes.col.adapter": "适配器", "ch.probes.summary": "答中事实：基础模型 {b}，适配器 {a}，共 {n}；人设标记：基础模型 {mb}，适配器 {ma}",
    "ch.you": "你", "ch.empty": "（空回答：只生成了空白或结束符）", "ch.col.base": "基础模型", "ch.col.adapter": "适配器：{name}",
    "dr.title": "诊断", "dr.run": "运行", "dr.run.button": "运行诊断", "dr.none": "这个运行还没有诊断报告。",
    "dr.verdict": "结论", "dr.findings": "发现的问题", "dr.evidence": "证据", "dr.effect": "效果数据",
    "dr.generations": "基础模型与适配器的回答对比", "dr.running": "正在诊断…", "dr.raw": "完整报告（JSON）",
    "verdict.learned": "已学会", "verdict.not_learned": "没学会", "verdict.partial": "部分学会",
    "verdict.inconclusive": "无法判断",
    "err.not_found": "未找到", "err.method_not_allowed": "不支持该方法", "err.invalid_request": "请求参数无效",
    "err.data_error": "数据集有问题", "err.config_error": "训练参数无效",
    "err.model_error": "模型有问题", "err.run_error": "运行有问题", "err.plan_refused": "训练前检查未通过，已拒绝训练",
    "err.conflict": "名称已被占用", "err.too_large": "文件过大", "err.unauthorized": "需要访问令牌",
    "err.internal_error": "服务器内部错误", "err.busy": "正忙", "err.no_probes": "没有留出测试问题",
    "err.read_only": "只读", "err.confirm_mismatch": "确认内容不一致", "err.run_incomplete": "运行尚未完成",
    "err.generation_failed": "生成失败", "err.studio_error": "问题", "err.network": "无法连接服务器",
    "err.endpoint_failed": "模型服务出错", "err.probe_leak": "保留的样本与留出测试问题过于相近",
  },
};

function pickLang() {
  const saved = localStorage.getItem("lorastudio.lang");
  if (saved && MESSAGES[saved]) return saved;
  const langs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || "en"];
  return String(langs[0]).toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

let LANG = pickLang();

function t(key, vars) {
  let s = (MESSAGES[LANG] && MESSAGES[LANG][key]) || MESSAGES.en[key] || key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.split("{" + k + "}").join(String(v));
  return s;
}

function applyI18n(root) {
  document.documentElement.lang = LANG;
  (root || document).querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  (root || document).querySelectorAll("[data-i18n-ph]").forEach((el) => { el.placeholder = t(el.dataset.i18nPh); });
  (root || document).querySelectorAll("[data-i18n-title]").forEach((el) => { el.title = t(el.dataset.i18nTitle); });
  document.title = t("app.title");
}

function setLang(lang) {
  LANG = lang;
  localStorage.setItem("lorastudio.lang", lang);
  applyI18n();
  window.dispatchEvent(new Event("langchange"));
}
