#include "vm/libvirt_view.h"

#include <algorithm>
#include <charconv>
#include <string>

#include "util/error.h"

namespace cpuhp {
namespace {

// The value of attribute `name` in one start tag (`tag` is "<vcpu ... />"),
// quoted with ' or "; nullopt when absent.
std::optional<std::string_view> Attribute(std::string_view tag, std::string_view name) {
  size_t pos = 0;
  while ((pos = tag.find(name, pos)) != std::string_view::npos) {
    bool starts = pos > 0 && (tag[pos - 1] == ' ' || tag[pos - 1] == '\t' || tag[pos - 1] == '\n');
    size_t eq = pos + name.size();
    if (starts && eq + 1 < tag.size() && tag[eq] == '=' && (tag[eq + 1] == '\'' || tag[eq + 1] == '"')) {
      size_t end = tag.find(tag[eq + 1], eq + 2);
      if (end == std::string_view::npos) break;
      return tag.substr(eq + 2, end - eq - 2);
    }
    pos = eq;
  }
  return std::nullopt;
}

int ToInt(std::string_view text, std::string_view what) {
  int v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v < 0) {
    throw ProtocolError("libvirt domain XML: " + std::string(what) + " is not a number: '" +
                        std::string(text.substr(0, 20)) + "'");
  }
  return v;
}

bool YesNo(std::optional<std::string_view> v) { return v && *v == "yes"; }

}  // namespace

LibvirtView ParseLibvirtVcpus(std::string_view xml) {
  LibvirtView view;
  // <vcpu placement='static' current='1'>4</vcpu>: the one <vcpu that is not inside <vcpus>.
  size_t vcpus_at = xml.find("<vcpus>");
  size_t top = xml.find("<vcpu ");
  if (top == std::string_view::npos || (vcpus_at != std::string_view::npos && top > vcpus_at)) {
    top = xml.find("<vcpu>");
  }
  if (top != std::string_view::npos && (vcpus_at == std::string_view::npos || top < vcpus_at)) {
    size_t gt = xml.find('>', top);
    size_t close = xml.find("</vcpu>", top);
    if (gt == std::string_view::npos || close == std::string_view::npos || close < gt) {
      throw ProtocolError("libvirt domain XML: unterminated <vcpu>");
    }
    std::string_view tag = xml.substr(top, gt - top);
    view.xml_maximum = ToInt(xml.substr(gt + 1, close - gt - 1), "<vcpu>");
    auto current = Attribute(tag, "current");
    view.xml_current = current ? ToInt(*current, "<vcpu current>") : view.xml_maximum;
  }
  if (vcpus_at == std::string_view::npos) return view;
  size_t end = xml.find("</vcpus>", vcpus_at);
  if (end == std::string_view::npos) throw ProtocolError("libvirt domain XML: unterminated <vcpus>");
  std::string_view body = xml.substr(vcpus_at, end - vcpus_at);
  size_t pos = 0;
  while ((pos = body.find("<vcpu ", pos)) != std::string_view::npos) {
    size_t gt = body.find('>', pos);
    if (gt == std::string_view::npos) throw ProtocolError("libvirt domain XML: unterminated <vcpu> in <vcpus>");
    if (view.vcpus.size() == kMaxLibvirtVcpus) {
      throw ProtocolError("libvirt domain XML: more than " + std::to_string(kMaxLibvirtVcpus) +
                          " <vcpu> entries");
    }
    std::string_view tag = body.substr(pos, gt - pos);
    LibvirtVcpu v;
    auto id = Attribute(tag, "id");
    if (!id) throw ProtocolError("libvirt domain XML: a <vcpu> in <vcpus> without id");
    v.id = ToInt(*id, "<vcpu id>");
    v.enabled = YesNo(Attribute(tag, "enabled"));
    v.hotpluggable = YesNo(Attribute(tag, "hotpluggable"));
    if (auto order = Attribute(tag, "order")) v.order = ToInt(*order, "<vcpu order>");
    view.vcpus.push_back(v);
    pos = gt;
  }
  std::sort(view.vcpus.begin(), view.vcpus.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  return view;
}

nlohmann::json ToJson(const LibvirtView& view) {
  nlohmann::json vcpus = nlohmann::json::array();
  for (const auto& v : view.vcpus) {
    nlohmann::json e = {{"id", v.id}, {"enabled", v.enabled}, {"hotpluggable", v.hotpluggable}};
    if (v.order) e["order"] = *v.order;
    vcpus.push_back(std::move(e));
  }
  return {{"vcpus", vcpus},
          {"xml_current", view.xml_current},
          {"xml_maximum", view.xml_maximum},
          {"live_count", view.live_count},
          {"maximum_count", view.maximum_count}};
}

}  // namespace cpuhp
