/* Showing an execution's output: images, an audio player, a video, text, and the JSON.
   Files may be data: URIs (inline base64) or http(s) links (stored files); anything else
   is shown as text only. Nothing from the output is ever inserted as HTML. */
(function () {
  "use strict";

  var el = window.Tarsify.el;
  var MEDIA = ["image", "audio", "video"];
  var EXTENSIONS = {
    image: /\.(png|jpe?g|webp|gif|avif|bmp|svg)(\?|#|$)/i,
    audio: /\.(wav|mp3|ogg|oga|flac|m4a|aac|opus)(\?|#|$)/i,
    video: /\.(mp4|webm|mov|m4v)(\?|#|$)/i
  };
  var DEFAULT_MIME = { image: "image/png", audio: "audio/wav", video: "video/mp4" };

  function kindOfName(name) {
    var lower = String(name || "").toLowerCase();
    for (var i = 0; i < MEDIA.length; i++) if (lower.indexOf(MEDIA[i]) === 0) return MEDIA[i];
    return null;
  }

  function isUrl(text) { return /^https?:\/\/[^\s]+$/i.test(text); }

  /* What kind of file a string is (image, audio, video, link), or null for plain text. */
  function kindOf(text, name, outputType) {
    var data = /^data:(image|audio|video)\/[\w.+-]+(;[\w=.+-]+)*;base64,/i.exec(text);
    if (data) return data[1].toLowerCase();
    if (!isUrl(text)) return null;
    for (var i = 0; i < MEDIA.length; i++) if (EXTENSIONS[MEDIA[i]].test(text)) return MEDIA[i];
    var byName = kindOfName(name);
    if (byName) return byName;
    if (outputType === "IMAGE" || outputType === "AUDIO") return outputType.toLowerCase();
    return "link";
  }

  /* Every file in the output, in document order: [{kind, src, name}]. */
  function collect(value, name, parent, outputType, found) {
    if (Array.isArray(value)) {
      value.forEach(function (item) { collect(item, name, parent, outputType, found); });
    } else if (value && typeof value === "object") {
      Object.keys(value).forEach(function (key) { collect(value[key], key, value, outputType, found); });
    } else if (typeof value === "string") {
      var kind = kindOf(value, name, outputType);
      if (!kind && /_base64$/i.test(name || "") && value.length > 16) {
        // A bare base64 member ("audio_base64") with its format beside it ("format": "wav").
        kind = kindOfName(name) || (outputType === "IMAGE" ? "image" : "audio");
        var format = parent && typeof parent.format === "string" ? parent.format : "";
        var mime = /^[a-z0-9]+$/i.test(format) ? kind + "/" + format.toLowerCase() : DEFAULT_MIME[kind];
        value = "data:" + mime + ";base64," + value.replace(/\s+/g, "");
      }
      if (kind) found.push({ kind: kind, src: value, name: name });
    }
    return found;
  }

  /* The output as JSON for reading: long base64 strings shortened. */
  function readable(output) {
    return JSON.stringify(output, function (key, value) {
      if (typeof value === "string" && value.length > 120 && !/\s/.test(value.slice(0, 120))) {
        return value.slice(0, 60) + "… (" + value.length + " characters)";
      }
      return value;
    }, 2);
  }

  function mediaNode(file, index, title, compact) {
    var label = (title || "Output") + " — " + file.kind + " " + (index + 1);
    if (file.kind === "image") {
      return el("img", { src: file.src, alt: label, class: compact ? "thumb" : "output-image", loading: "lazy" });
    }
    if (file.kind === "audio") {
      return el("audio", { src: file.src, controls: true, preload: "metadata", "aria-label": label, class: "output-audio" });
    }
    if (file.kind === "video") {
      return el("video", { src: file.src, controls: true, preload: "metadata", "aria-label": label, class: "output-video" });
    }
    return el("a", { href: file.src, rel: "noopener noreferrer", target: "_blank", text: "Download " + (file.name || "file") });
  }

  function textOf(output) {
    if (typeof output === "string") return output;
    // A streamed answer: the list of its text chunks.
    if (Array.isArray(output) && output.length && output.every(function (c) { return typeof c === "string"; })) {
      return output.join("");
    }
    if (output && typeof output === "object") {
      var keys = ["text", "transcription", "transcript", "caption", "answer"];
      for (var i = 0; i < keys.length; i++) if (typeof output[keys[i]] === "string") return output[keys[i]];
    }
    return null;
  }

  /* A node showing ``output``; ``options``: {outputType, title, compact}. */
  function renderOutput(output, options) {
    options = options || {};
    var box = el("div", { class: "output" });
    var files = collect(output, null, null, options.outputType, []);
    var media = el("div", { class: "output-media" });
    files.forEach(function (file, i) { media.appendChild(mediaNode(file, i, options.title, options.compact)); });
    if (files.length) box.appendChild(media);
    var text = textOf(output);
    if (text !== null) box.appendChild(el("p", { class: options.compact ? "output-text clamp" : "output-text", text: text }));
    if (output && typeof output === "object" && output.simulated === true && !options.compact) {
      box.appendChild(el("p", { class: "hint", text: "Simulated output: this server runs the local GPU simulator." }));
    }
    if (!options.compact || (!files.length && text === null)) {
      var details = el("details", { class: "output-json" }, [
        el("summary", { text: "JSON output" }),
        el("pre", { text: readable(output) })
      ]);
      if (!files.length && text === null) details.open = true;
      box.appendChild(details);
    }
    return box;
  }

  /* The text a streamed chunk adds (a token, or an object's text), or null. */
  function chunkText(chunk) {
    if (typeof chunk === "string") return chunk;
    return textOf(chunk);
  }

  window.Tarsify.renderOutput = renderOutput;
  window.Tarsify.chunkText = chunkText;
})();
