package deploy

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/dialq/dialq/vendors/registry"
)

const k8sDir = "kubernetes"

// manifest is one YAML document of deploy/kubernetes, decoded.
type manifest struct {
	file string
	obj  any
}

// kustomization is the part of kustomize's Kustomization (kustomize.config.k8s.io/
// v1beta1) these manifests use; a field outside it fails the strict decode.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
	Labels     []struct {
		Pairs            map[string]string `json:"pairs"`
		IncludeSelectors bool              `json:"includeSelectors,omitempty"`
	} `json:"labels,omitempty"`
	Images []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
	} `json:"images,omitempty"`
}

// scaledObject is KEDA's ScaledObject (keda.sh/v1alpha1) by the field list of its
// published specification (keda.sh/docs/2.x/reference/scaledobject-spec): every
// field of spec, spec.scaleTargetRef, spec.fallback, spec.advanced and a trigger,
// and the documented metadata keys of the prometheus trigger. KEDA's own Go types
// (github.com/kedacore/keda/v2/apis) would pull in KEDA's whole module graph.
type scaledObject struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace,omitempty"`
		Labels      map[string]string `json:"labels,omitempty"`
		Annotations map[string]string `json:"annotations,omitempty"`
	} `json:"metadata"`
	Spec struct {
		ScaleTargetRef struct {
			APIVersion             string `json:"apiVersion,omitempty"`
			Kind                   string `json:"kind,omitempty"`
			Name                   string `json:"name"`
			EnvSourceContainerName string `json:"envSourceContainerName,omitempty"`
		} `json:"scaleTargetRef"`
		PollingInterval       *int32 `json:"pollingInterval,omitempty"`
		CooldownPeriod        *int32 `json:"cooldownPeriod,omitempty"`
		InitialCooldownPeriod *int32 `json:"initialCooldownPeriod,omitempty"`
		IdleReplicaCount      *int32 `json:"idleReplicaCount,omitempty"`
		MinReplicaCount       *int32 `json:"minReplicaCount,omitempty"`
		MaxReplicaCount       *int32 `json:"maxReplicaCount,omitempty"`
		Fallback              *struct {
			FailureThreshold int32  `json:"failureThreshold"`
			Replicas         int32  `json:"replicas"`
			Behavior         string `json:"behavior,omitempty"`
		} `json:"fallback,omitempty"`
		Advanced *struct {
			RestoreToOriginalReplicaCount bool `json:"restoreToOriginalReplicaCount,omitempty"`
			HorizontalPodAutoscalerConfig *struct {
				Name     string                                         `json:"name,omitempty"`
				Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior,omitempty"`
			} `json:"horizontalPodAutoscalerConfig,omitempty"`
			ScalingModifiers *struct {
				Formula          string `json:"formula,omitempty"`
				Target           string `json:"target,omitempty"`
				ActivationTarget string `json:"activationTarget,omitempty"`
				MetricType       string `json:"metricType,omitempty"`
			} `json:"scalingModifiers,omitempty"`
		} `json:"advanced,omitempty"`
		Triggers []struct {
			Type              string            `json:"type"`
			Name              string            `json:"name,omitempty"`
			Metadata          map[string]string `json:"metadata"`
			UseCachedMetrics  bool              `json:"useCachedMetrics,omitempty"`
			MetricType        string            `json:"metricType,omitempty"`
			AuthenticationRef *struct {
				Name string `json:"name"`
				Kind string `json:"kind,omitempty"`
			} `json:"authenticationRef,omitempty"`
		} `json:"triggers"`
	} `json:"spec"`
}

// prometheusTriggerKeys are the prometheus scaler's documented metadata keys.
var prometheusTriggerKeys = []string{"serverAddress", "query", "queryParameters", "threshold", "activationThreshold",
	"namespace", "customHeaders", "ignoreNullValues", "unsafeSsl", "timeout"}

// kinds maps apiVersion/kind to a new value of its Go type.
var kinds = map[string]func() any{
	"v1/ConfigMap":                                  func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                                     func() any { return &corev1.Secret{} },
	"v1/Service":                                    func() any { return &corev1.Service{} },
	"v1/PersistentVolumeClaim":                      func() any { return &corev1.PersistentVolumeClaim{} },
	"apps/v1/Deployment":                            func() any { return &appsv1.Deployment{} },
	"policy/v1/PodDisruptionBudget":                 func() any { return &policyv1.PodDisruptionBudget{} },
	"batch/v1/Job":                                  func() any { return &batchv1.Job{} },
	"autoscaling/v2/HorizontalPodAutoscaler":        func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"keda.sh/v1alpha1/ScaledObject":                 func() any { return &scaledObject{} },
	"kustomize.config.k8s.io/v1beta1/Kustomization": func() any { return &kustomization{} },
}

var docSeparator = regexp.MustCompile(`(?m)^---\s*$`)

// loadManifests decodes every YAML document under deploy/kubernetes strictly: an
// unknown or misspelt field, a duplicate key or a wrong type fails.
func loadManifests(t *testing.T) []manifest {
	t.Helper()
	var out []manifest
	err := filepath.WalkDir(k8sDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(k8sDir, path)
		for _, doc := range docSeparator.Split(string(b), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			var tm struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
			}
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				t.Errorf("%s: %v", rel, err)
				continue
			}
			newObj, ok := kinds[tm.APIVersion+"/"+tm.Kind]
			if !ok {
				t.Errorf("%s: %s %s is not a kind this test knows", rel, tm.APIVersion, tm.Kind)
				continue
			}
			obj := newObj()
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Errorf("%s: %s: %v", rel, tm.Kind, err)
				continue
			}
			out = append(out, manifest{file: rel, obj: obj})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func find[T any](ms []manifest, name func(T) string, want string) (T, string) {
	for _, m := range ms {
		if o, ok := m.obj.(T); ok && name(o) == want {
			return o, m.file
		}
	}
	var zero T
	return zero, ""
}

func all[T any](ms []manifest) []T {
	var out []T
	for _, m := range ms {
		if o, ok := m.obj.(T); ok {
			out = append(out, o)
		}
	}
	return out
}

// secretMount is where the pods mount the credentials Secret.
const secretMount = "/run/secrets/dialq"

func TestKubernetesManifests(t *testing.T) {
	ms := loadManifests(t)
	if t.Failed() {
		t.FailNow()
	}
	df := parseDockerfile(t)
	prod := df.target("")
	workerEnv, enqueueEnv := readEnv(t, "./cmd/worker"), readEnv(t, "./cmd/enqueue")

	kust, _ := find(ms, func(*kustomization) string { return "" }, "")
	if kust == nil {
		t.Fatal("no kustomization.yaml")
	}
	t.Run("kustomization", func(t *testing.T) {
		text, _ := os.ReadFile(filepath.Join(k8sDir, "kustomization.yaml"))
		files := map[string]bool{}
		for _, m := range ms {
			files[m.file] = true
		}
		for _, r := range kust.Resources {
			if !files[r] {
				t.Errorf("resource %s: no such manifest", r)
			}
		}
		// A file not applied by default must be named in kustomization.yaml's
		// comments, so that nobody wonders what it is for.
		for f := range files {
			if f != "kustomization.yaml" && !slices.Contains(kust.Resources, f) && !strings.Contains(string(text), f) {
				t.Errorf("%s is neither a resource nor documented in kustomization.yaml", f)
			}
		}
	})

	configMaps := map[string][]*corev1.ConfigMap{} // by name; redis/*.yaml are alternatives
	for _, cm := range all[*corev1.ConfigMap](ms) {
		configMaps[cm.Name] = append(configMaps[cm.Name], cm)
	}
	// Every vendor of the registry has its fleet rate in the worker's ConfigMap,
	// where an operator looks for it.
	for _, v := range registry.Names() {
		name := strings.ToUpper(v) + "_RATE"
		if !slices.ContainsFunc(configMaps["dialq-worker"], func(cm *corev1.ConfigMap) bool { _, ok := cm.Data[name]; return ok }) {
			t.Errorf("ConfigMap dialq-worker has no %s", name)
		}
	}
	secret, _ := find(ms, func(s *corev1.Secret) string { return s.Name }, "dialq-credentials")
	if secret == nil {
		t.Fatal("no Secret dialq-credentials")
	}
	usedKeys := map[string]bool{}

	// checkEnv checks one variable a container gets: the program reads it, and a
	// credential comes as a file from the mounted Secret, never as a value.
	checkEnv := func(t *testing.T, where string, reads *envReads, name, value string, mounts map[string]bool) {
		t.Helper()
		if !reads.reads(name) {
			t.Errorf("%s sets %s, which the program does not read", where, name)
		}
		if reads.secrets[name] {
			t.Errorf("%s sets the credential %s as a value: mount it and set %s_FILE", where, name, name)
		}
		if base, ok := strings.CutSuffix(name, "_FILE"); ok && reads.secrets[base] {
			dir, key := filepath.Split(value)
			if !mounts[filepath.Clean(dir)] {
				t.Errorf("%s: %s=%s is not under the Secret's mount %s", where, name, value, secretMount)
			}
			if _, ok := secret.StringData[key]; !ok {
				t.Errorf("%s: %s names key %q, which the Secret template lacks", where, name, key)
			}
			usedKeys[key] = true
		}
	}

	podSpecs := map[string]*corev1.PodSpec{}
	for _, d := range all[*appsv1.Deployment](ms) {
		podSpecs["Deployment "+d.Name] = &d.Spec.Template.Spec
	}
	for _, j := range all[*batchv1.Job](ms) {
		podSpecs["Job "+j.GenerateName] = &j.Spec.Template.Spec
	}
	for where, ps := range podSpecs {
		t.Run(where, func(t *testing.T) {
			if ps.AutomountServiceAccountToken == nil || *ps.AutomountServiceAccountToken {
				t.Error("automountServiceAccountToken: want false (dialq never calls the API server)")
			}
			mounts := map[string]bool{}
			for _, c := range ps.Containers {
				psc, csc := ps.SecurityContext, c.SecurityContext
				if csc == nil || psc == nil {
					t.Fatalf("container %s: want pod and container securityContext", c.Name)
				}
				nonRoot := (csc.RunAsNonRoot != nil && *csc.RunAsNonRoot) || (psc.RunAsNonRoot != nil && *psc.RunAsNonRoot)
				user := psc.RunAsUser
				if csc.RunAsUser != nil {
					user = csc.RunAsUser
				}
				imageUser, _, _ := strings.Cut(prod.user, ":")
				if !nonRoot || user == nil || strconv.FormatInt(*user, 10) != imageUser {
					t.Errorf("container %s: runAsNonRoot %v, runAsUser %v; want true and the image's USER %s", c.Name, nonRoot, user, imageUser)
				}
				if csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
					t.Errorf("container %s: want readOnlyRootFilesystem", c.Name)
				}
				if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation ||
					csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") {
					t.Errorf("container %s: want allowPrivilegeEscalation false and capabilities drop ALL", c.Name)
				}
				if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
					t.Errorf("container %s: resources %+v; want cpu and memory requests and a memory limit", c.Name, c.Resources)
				}
				for _, vm := range c.VolumeMounts {
					for _, v := range ps.Volumes {
						if v.Name == vm.Name && v.Secret != nil && v.Secret.SecretName == secret.Name {
							mounts[filepath.Clean(vm.MountPath)] = vm.ReadOnly
						}
					}
				}
				prog := "/usr/local/bin/worker"
				if len(c.Command) > 0 {
					prog = c.Command[0]
				}
				if !slices.Contains(prod.bins, prog) {
					t.Errorf("container %s runs %s, which the image lacks (%v)", c.Name, prog, prod.bins)
				}
				reads := workerEnv
				if filepath.Base(prog) == "enqueue" {
					reads = enqueueEnv
				}
				for _, e := range c.Env {
					if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
						t.Errorf("container %s: %s from secretKeyRef; mount the Secret and set a *_FILE variable", c.Name, e.Name)
					}
					checkEnv(t, "container "+c.Name, reads, e.Name, e.Value, mounts)
				}
				for _, ef := range c.EnvFrom {
					if ef.SecretRef != nil {
						t.Errorf("container %s: envFrom a Secret puts credentials in the environment", c.Name)
					}
					if ef.ConfigMapRef == nil {
						continue
					}
					cms := configMaps[ef.ConfigMapRef.Name]
					if len(cms) == 0 {
						t.Errorf("container %s: envFrom ConfigMap %s, which no manifest defines", c.Name, ef.ConfigMapRef.Name)
					}
					for _, cm := range cms {
						for k, v := range cm.Data {
							checkEnv(t, "ConfigMap "+cm.Name+" (container "+c.Name+")", reads, k, v, mounts)
						}
					}
				}
				if prog == "/usr/local/bin/worker" {
					checkProbes(t, c, prod.exposes)
				}
			}
		})
	}
	t.Run("secret keys used", func(t *testing.T) {
		for k := range secret.StringData {
			if !usedKeys[k] {
				t.Errorf("Secret key %s is named by no *_FILE variable", k)
			}
		}
	})

	worker, _ := find(ms, func(d *appsv1.Deployment) string { return d.Name }, "dialq-worker")
	if worker == nil {
		t.Fatal("no Deployment dialq-worker")
	}
	t.Run("worker stop", func(t *testing.T) {
		checkWorkerStop(t, worker, configMaps["dialq-worker"], workerEnv)
	})
	t.Run("gauges", func(t *testing.T) {
		g, _ := find(ms, func(d *appsv1.Deployment) string { return d.Name }, "dialq-gauges")
		if g == nil || g.Spec.Replicas == nil || *g.Spec.Replicas != 1 {
			t.Fatal("want a Deployment dialq-gauges with 1 replica: it reports the gauges while the workers are at zero")
		}
		if !slices.ContainsFunc(g.Spec.Template.Spec.Containers[0].Env, func(e corev1.EnvVar) bool {
			return e.Name == "WORKER_GAUGES_ONLY" && e.Value == "true"
		}) {
			t.Error("dialq-gauges: want WORKER_GAUGES_ONLY=true")
		}
	})
	t.Run("selectors", func(t *testing.T) {
		labels := worker.Spec.Template.Labels
		matches := func(sel map[string]string) bool {
			for k, v := range sel {
				if labels[k] != v {
					return false
				}
			}
			return len(sel) > 0
		}
		if !matches(worker.Spec.Selector.MatchLabels) {
			t.Errorf("worker selector %v does not match its pods %v", worker.Spec.Selector.MatchLabels, labels)
		}
		svc, _ := find(ms, func(s *corev1.Service) string { return s.Name }, "dialq")
		if svc == nil || !matches(svc.Spec.Selector) || svc.Spec.Ports[0].TargetPort.String() != "http" {
			t.Errorf("Service dialq %+v: want it to select the workers' port http", svc)
		}
		pdb, _ := find(ms, func(p *policyv1.PodDisruptionBudget) string { return p.Name }, "dialq-worker")
		if pdb == nil || !matches(pdb.Spec.Selector.MatchLabels) || pdb.Spec.MaxUnavailable == nil {
			t.Errorf("PodDisruptionBudget %+v: want maxUnavailable over the workers (minAvailable would block drains at one replica)", pdb)
		}
	})
	t.Run("images", func(t *testing.T) {
		var img string
		for _, i := range kust.Images {
			if i.Name == worker.Spec.Template.Spec.Containers[0].Image {
				img = i.NewName + ":" + i.NewTag
			}
		}
		if img == "" {
			t.Fatalf("kustomization images do not set the worker's image %q", worker.Spec.Template.Spec.Containers[0].Image)
		}
		// The Job is created by hand, outside kustomize: it names the image in full.
		for _, j := range all[*batchv1.Job](ms) {
			if got := j.Spec.Template.Spec.Containers[0].Image; got != img {
				t.Errorf("Job image %s; want %s, as kustomization.yaml sets", got, img)
			}
		}
	})
	t.Run("autoscaling", func(t *testing.T) {
		checkAutoscaling(t, ms, worker, configMaps["dialq-worker"])
	})
}

// checkProbes: liveness on /healthz and readiness on /readyz, on the port the
// image exposes.
func checkProbes(t *testing.T, c corev1.Container, exposes []string) {
	t.Helper()
	port := func(p *corev1.Probe) string {
		if p == nil || p.HTTPGet == nil {
			return ""
		}
		if p.HTTPGet.Port.StrVal == "" {
			return p.HTTPGet.Port.String()
		}
		for _, cp := range c.Ports {
			if cp.Name == p.HTTPGet.Port.StrVal {
				return strconv.Itoa(int(cp.ContainerPort))
			}
		}
		return ""
	}
	for _, p := range []struct {
		kind  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}, {"startup", c.StartupProbe, "/healthz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || !slices.Contains(exposes, port(p.probe)) {
			t.Errorf("container %s %s probe %+v; want GET %s on the image's port %v", c.Name, p.kind, p.probe, p.path, exposes)
		}
	}
}

var preStopSleep = regexp.MustCompile(`\bsleep (\d+)\b`)

// checkWorkerStop: the preStop quiets the worker (SIGTSTP, which the worker
// handles) and waits; the grace period covers that wait, the worker's shutdown
// timeout and a margin.
func checkWorkerStop(t *testing.T, d *appsv1.Deployment, cms []*corev1.ConfigMap, reads *envReads) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repoRoot, "cmd", "worker", "fleet.go"))
	if err != nil || !bytes.Contains(src, []byte("syscall.SIGTSTP")) {
		t.Fatalf("the worker does not handle SIGTSTP (%v): the preStop would stop it dead", err)
	}
	c := d.Spec.Template.Spec.Containers[0]
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Exec == nil {
		t.Fatal("worker: want a preStop exec hook")
	}
	cmd := strings.Join(c.Lifecycle.PreStop.Exec.Command, " ")
	m := preStopSleep.FindStringSubmatch(cmd)
	if !strings.Contains(cmd, "kill -TSTP 1") || m == nil {
		t.Fatalf("preStop %q: want kill -TSTP 1 (quiet) then a sleep", cmd)
	}
	wait, _ := strconv.Atoi(m[1])
	shutdown := reads.defaults["WORKER_SHUTDOWN_TIMEOUT"]
	for _, cm := range cms {
		if v, ok := cm.Data["WORKER_SHUTDOWN_TIMEOUT"]; ok {
			shutdown = v
		}
	}
	timeout, err := time.ParseDuration(shutdown)
	if err != nil {
		t.Fatalf("WORKER_SHUTDOWN_TIMEOUT %q: %v", shutdown, err)
	}
	const margin = 10 * time.Second // HTTP shutdown and span flush, 5 s each
	need := time.Duration(wait)*time.Second + timeout + margin
	grace := d.Spec.Template.Spec.TerminationGracePeriodSeconds
	if grace == nil || time.Duration(*grace)*time.Second < need {
		t.Errorf("terminationGracePeriodSeconds %d; want at least preStop %ds + shutdown %v + %v = %v", ptrValue(grace), wait, timeout, margin, need)
	}
}

// checkAutoscaling: the KEDA object and the HPA scale the worker Deployment on
// dialq_parts_runnable (a gauge the monitor package exports), aggregated with max
// across pods; KEDA may scale to zero.
func checkAutoscaling(t *testing.T, ms []manifest, worker *appsv1.Deployment, cms []*corev1.ConfigMap) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repoRoot, "monitor", "runnable.go"))
	if err != nil {
		t.Fatal(err)
	}
	const metric = "dialq_parts_runnable"
	if !bytes.Contains(src, []byte(`"`+metric+`"`)) {
		t.Fatalf("monitor does not export %s", metric)
	}
	aggregated := regexp.MustCompile(`max by \(queue\) \(` + metric + `\b`)
	concurrency := ""
	for _, cm := range cms {
		concurrency = cm.Data["WORKER_CONCURRENCY"]
	}

	sos := all[*scaledObject](ms)
	if len(sos) != 1 {
		t.Fatalf("%d ScaledObjects; want 1", len(sos))
	}
	so := sos[0]
	ref := so.Spec.ScaleTargetRef
	if ref.Name != worker.Name || (ref.Kind != "" && ref.Kind != "Deployment") {
		t.Errorf("ScaledObject targets %+v; want Deployment %s", ref, worker.Name)
	}
	if so.Spec.MinReplicaCount == nil || *so.Spec.MinReplicaCount != 0 || so.Spec.MaxReplicaCount == nil {
		t.Errorf("ScaledObject min %v max %v; want min 0 (scale to zero) and a max", so.Spec.MinReplicaCount, so.Spec.MaxReplicaCount)
	}
	if so.Spec.Fallback == nil || so.Spec.Fallback.Replicas < 1 {
		t.Error("ScaledObject: want a fallback of at least one replica when Prometheus cannot answer")
	}
	if len(so.Spec.Triggers) != 1 || so.Spec.Triggers[0].Type != "prometheus" {
		t.Fatalf("ScaledObject triggers %+v; want one prometheus trigger", so.Spec.Triggers)
	}
	md := so.Spec.Triggers[0].Metadata
	for k := range md {
		if !slices.Contains(prometheusTriggerKeys, k) {
			t.Errorf("prometheus trigger metadata %q is not a documented key", k)
		}
	}
	if !aggregated.MatchString(md["query"]) {
		t.Errorf("query %q: want max by (queue) (%s...): every pod reports the same fleet-wide value", md["query"], metric)
	}
	if md["threshold"] != concurrency || md["activationThreshold"] != "0" || md["serverAddress"] == "" {
		t.Errorf("trigger %v; want threshold = WORKER_CONCURRENCY (%s), activationThreshold 0, a serverAddress", md, concurrency)
	}

	hpa, _ := find(ms, func(h *autoscalingv2.HorizontalPodAutoscaler) string { return h.Name }, worker.Name)
	if hpa == nil {
		t.Fatal("no HorizontalPodAutoscaler for the workers")
	}
	if hpa.Spec.ScaleTargetRef.Name != worker.Name || len(hpa.Spec.Metrics) != 1 || hpa.Spec.Metrics[0].External == nil {
		t.Fatalf("HPA %+v; want one external metric on Deployment %s", hpa.Spec, worker.Name)
	}
	ext := hpa.Spec.Metrics[0].External
	if ext.Target.AverageValue == nil || ext.Target.AverageValue.String() != concurrency {
		t.Errorf("HPA target %+v; want AverageValue = WORKER_CONCURRENCY (%s)", ext.Target, concurrency)
	}
	adapter, _ := find(ms, func(c *corev1.ConfigMap) string { return c.Name }, "prometheus-adapter")
	if adapter == nil {
		t.Fatal("no prometheus-adapter ConfigMap with the HPA's rule")
	}
	var rules struct {
		ExternalRules []struct {
			SeriesQuery string `json:"seriesQuery"`
			Resources   struct {
				Overrides map[string]struct {
					Resource string `json:"resource"`
				} `json:"overrides"`
			} `json:"resources"`
			Name struct {
				Matches string `json:"matches"`
				As      string `json:"as"`
			} `json:"name"`
			MetricsQuery string `json:"metricsQuery"`
		} `json:"externalRules"`
	}
	if err := yaml.UnmarshalStrict([]byte(adapter.Data["config.yaml"]), &rules); err != nil || len(rules.ExternalRules) != 1 {
		t.Fatalf("adapter config.yaml: %v (%d rules)", err, len(rules.ExternalRules))
	}
	r := rules.ExternalRules[0]
	if r.Name.As != ext.Metric.Name || !strings.Contains(r.SeriesQuery, metric) ||
		!strings.Contains(r.MetricsQuery, "max by (queue) (<<.Series>>") {
		t.Errorf("adapter rule %+v; want %s from %s, max by (queue)", r, ext.Metric.Name, metric)
	}
}

func ptrValue(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
